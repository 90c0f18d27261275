#ifndef VAULTCA_CLI_BOOTSTRAP_H_
#define VAULTCA_CLI_BOOTSTRAP_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "vault/config.h"

namespace vaultca {
namespace cli {

// `vaultca bootstrap`: the seed's "Configure Vault" and "Add secrets in
// Vault" in one idempotent command (see --help). Writes the report to
// `out` and errors to `err`; returns the exit code (flags.h).
//
// `before_writes`, when set, runs after every read and decision and before
// the first write: tests use it to change Vault concurrently.
int RunBootstrap(const std::vector<std::string>& args,
                 const vault::EnvLookup& env, std::ostream& out,
                 std::ostream& err,
                 const std::function<void()>& before_writes = nullptr);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_BOOTSTRAP_H_
