#ifndef VAULTCA_CLI_SYNC_H_
#define VAULTCA_CLI_SYNC_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/cacerts_target.h"
#include "vault/client.h"
#include "cli/vault_flags.h"

namespace vaultca {
namespace cli {

// What one sync round did.
enum class SyncOutcome { kUnchanged, kWritten };

// One round: reads the material from Vault, checks it (CheckMaterial),
// reads what `target` holds, and, when they differ and the change keeps
// the roots in service (CheckRootTransition, unless `multi_root`), writes
// the new material in one step. Anything wrong leaves `target` untouched
// and returns the error, whose message says what to fix. `note` receives
// one line describing what was done.
absl::StatusOr<SyncOutcome> SyncOnce(
    const std::shared_ptr<vault::VaultClient>& client,
    const MaterialLocation& location, CacertsTarget* target, bool multi_root,
    std::string* note);

// Hooks for tests and embedding programs.
struct SyncHooks {
  // Waits `d` between rounds of the loop; returns false to stop. Default:
  // until SIGTERM or SIGINT (which stop the loop with exit 0).
  std::function<bool(absl::Duration d)> wait;
};

// `vaultca sync` (see --help). Returns the exit code (flags.h).
int RunSync(const std::vector<std::string>& args, const vault::EnvLookup& env,
            std::ostream& out, std::ostream& err, SyncHooks hooks = SyncHooks());

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_SYNC_H_
