// Fuzzes the "vault:PATH#KEY[#VERSION]" reference grammar, which reaches
// vaultca through configuration and environment variables. Besides not
// crashing, a parsed reference must survive ToString() unchanged.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "vault/reference.h"

namespace vaultca {
namespace fuzzing {

std::vector<std::string> Seeds() {
  return {
      "vault:secret/data/pki/istiod#certificate",
      "vault:secret/data/pki/istiod#privateKey#3",
      "vault:secret/pki/istiod#key#-1",
      "vault:kv/a.b/c-d_e#k#0",
      "vault:/abs#k",
      "vault:a//b#k",
      "vault:a/../b#k",
      "vault:a b#k",
      "vault:a?x=1#k",
      "vault:a#",
      "vault:a#k#9223372036854775807",
      "vault:a#k#-2",
      "vault:a#k#1#2",
      "vault:",
      "VAULT:a#k",
  };
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ::vaultca::fuzzing::Check;
  namespace vault = ::vaultca::vault;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<vault::Reference> ref = vault::ParseReference(text);
  if (!ref.ok()) return 0;
  Check(vault::LooksLikeReference(text), "a valid reference looks like one");
  Check(ref->version >= 0, "versions are >= 0 after parsing");
  const std::string canonical = ref->ToString();
  absl::StatusOr<vault::Reference> again = vault::ParseReference(canonical);
  Check(again.ok() && *again == *ref, "ToString() parses back to the same");
  return 0;
}
