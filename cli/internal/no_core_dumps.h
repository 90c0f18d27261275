#ifndef VAULTCA_CLI_INTERNAL_NO_CORE_DUMPS_H_
#define VAULTCA_CLI_INTERNAL_NO_CORE_DUMPS_H_

#include <string>

namespace vaultca {
namespace cli {
namespace internal {

// Keeps the CA key and the Vault token out of core files and away from
// same-user debuggers (RLIMIT_CORE 0, not dumpable), as vaultca-server
// does. Best effort: returns what failed, empty when both took effect.
std::string DisableCoreDumps();

}  // namespace internal
}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_INTERNAL_NO_CORE_DUMPS_H_
