#ifndef VAULTCA_CLI_ROTATE_H_
#define VAULTCA_CLI_ROTATE_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "vault/config.h"

namespace vaultca {
namespace cli {

// `vaultca rotate intermediate|root`: the two CA rotations as staged,
// resumable steps with safety checks between them (see --help). Each run
// reads where the rotation stands from Vault (and Kubernetes) and does the
// next step, or the one --step names; a step whose precondition does not
// hold is refused with one line saying what to wait for. Writes the
// report to `out` and errors to `err`; returns the exit code (flags.h).
//
// `before_write`, when set, runs after every read and check and right
// before the Vault write: tests use it to change Vault concurrently.
int RunRotate(const std::vector<std::string>& args, const vault::EnvLookup& env,
              std::ostream& out, std::ostream& err,
              const std::function<void()>& before_write = nullptr);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_ROTATE_H_
