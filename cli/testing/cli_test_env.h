#ifndef VAULTCA_CLI_TESTING_CLI_TEST_ENV_H_
#define VAULTCA_CLI_TESTING_CLI_TEST_ENV_H_

// Test-only: runs vaultca subcommands in-process against a real Vault
// (VAULTCA_VAULT_BIN), with the seed's commands driven through Vault's own
// CLI.

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ca/key_cert_bundle.h"
#include "testing/real_vault.h"
#include "testing/tls.h"
#include "vault/config.h"
#include "server/kube/testing/real_kube.h"

namespace vaultca {
namespace cli {
namespace testing {

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

using Command = std::function<int(const std::vector<std::string>&,
                                  const vault::EnvLookup&, std::ostream&,
                                  std::ostream&)>;

// An environment holding exactly `vars`.
vault::EnvLookup MapEnv(std::map<std::string, std::string> vars);

// Runs `command` with `args` and an environment of `env` only.
RunResult RunCli(const Command& command, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {});

// One real Vault for a test suite (testing/real_vault.h) and helpers.
class VaultEnv {
 public:
  // Starts Vault; the error names VAULTCA_VAULT_BIN when it is missing.
  static absl::StatusOr<std::unique_ptr<VaultEnv>> Start();
  ~VaultEnv();

  testkit::RealVault& vault() const { return *vault_; }
  const testkit::TestTls& tls() const { return *tls_; }
  const std::string& dir() const { return tls_->dir; }

  // --vault-addr and --vault-cacert.
  std::vector<std::string> ConnectionArgs() const;
  // ConnectionArgs plus --token-file holding `token` (root when empty).
  std::vector<std::string> TokenArgs(const std::string& token = "") const;
  // Writes `content` to a fresh file under dir(); returns its path.
  std::string WriteFile(const std::string& name, const std::string& content) const;
  // `vault kv put <cli_path> certificate=@ privateKey=@ [certChain=@
  // rootCert=@]` as the seed's step does.
  absl::Status PutMaterial(const std::string& cli_path,
                           const ca::CaMaterialPem& material,
                           bool with_chain_and_root = true) const;
  // A token with `policy` only.
  absl::StatusOr<std::string> PolicyToken(const std::string& policy) const;

 private:
  VaultEnv() = default;
  testkit::TestTls* tls_ = nullptr;
  testkit::RealVault* vault_ = nullptr;
};

// Skips (VAULTCA_ALLOW_NO_VAULT=1 and no binary) or fails with `error`.
#define VAULTCA_CLI_REQUIRE_PEER(error)                                   \
  do {                                                                    \
    if (!(error).empty()) {                                               \
      if ((::vaultca::testkit::MissingVaultAllowed() &&            \
           (error).find("VAULTCA_VAULT_BIN") != std::string::npos) ||     \
          (::vaultca::server::testing::MissingKubeAllowed() &&            \
           (error).find("VAULTCA_KUBE_BIN_DIR") != std::string::npos)) {  \
        GTEST_SKIP() << (error);                                          \
      }                                                                   \
      FAIL() << (error);                                                  \
    }                                                                     \
  } while (0)

}  // namespace testing
}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_TESTING_CLI_TEST_ENV_H_
