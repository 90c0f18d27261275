#include "cli/internal/no_core_dumps.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace vaultca {
namespace cli {
namespace internal {

std::string DisableCoreDumps() {
  std::string problems;
  const struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    problems = absl::StrCat("setrlimit(RLIMIT_CORE, 0): ", std::strerror(errno));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    absl::StrAppend(&problems, problems.empty() ? "" : "; ",
                    "prctl(PR_SET_DUMPABLE, 0): ", std::strerror(errno));
  }
  return problems;
}

}  // namespace internal
}  // namespace cli
}  // namespace vaultca
