#ifndef VAULTCA_CLI_CHECK_H_
#define VAULTCA_CLI_CHECK_H_

#include <ostream>
#include <string>
#include <vector>

#include "vault/config.h"

namespace vaultca {
namespace cli {

// `vaultca check`: the seed's "Test your setup" made real (see --help).
// Writes the report to `out` and usage errors to `err`; returns 0 when
// every check passed (warnings allowed), 1 when one failed, 2 for bad
// flags or configuration.
int RunCheck(const std::vector<std::string>& args,
             const vault::EnvLookup& env, std::ostream& out,
             std::ostream& err);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_CHECK_H_
