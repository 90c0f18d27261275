#ifndef VAULTCA_COMMON_TESTING_FUZZ_SUPPORT_H_
#define VAULTCA_COMMON_TESTING_FUZZ_SUPPORT_H_

// Helpers shared by fuzz targets and their two drivers.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace fuzzing {

// Reports a broken invariant and aborts, so both libFuzzer and the corpus
// test record the input as a finding.
[[noreturn]] void Fail(absl::string_view what);

// Aborts with `what` unless `condition` holds.
inline void Check(bool condition, absl::string_view what) {
  if (!condition) Fail(what);
}

// Returns the content of `path`, relative to the source tree: found
// through Bazel's runfiles (TEST_SRCDIR) or VAULTCA_SOURCE_DIR (CMake's
// ctest and tools/fuzz/run.sh set it). Aborts when it is not found, since
// a target without its seeds would silently test less.
std::string SourceFile(absl::string_view path);

// Returns a fresh private directory (under TEST_TMPDIR when set), created
// once per process and removed with its files at exit.
const std::string& ScratchDir();

// Writes `content` to `dir`/`name`; aborts on failure.
void WriteFile(const std::string& dir, const std::string& name,
               absl::string_view content);

// Writes every seed of the target to `dir` as seed-NNN files, creating
// the directory when missing. Returns how many were written.
int WriteSeeds(const std::string& dir);

}  // namespace fuzzing
}  // namespace vaultca

#endif  // VAULTCA_COMMON_TESTING_FUZZ_SUPPORT_H_
