#ifndef VAULTCA_TESTING_REAL_VAULT_H_
#define VAULTCA_TESTING_REAL_VAULT_H_

// Test-only: runs the real HashiCorp Vault binary (VAULTCA_VAULT_BIN) as a
// TLS server on 127.0.0.1 with in-memory storage, initialised and unsealed
// with one key share, and drives its CLI.

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "testing/tls.h"

namespace vaultca {
namespace testkit {

// Result of one command.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` with `env` added to a minimal environment (PATH, HOME),
// feeding `stdin_data`, and waits for it.
absl::StatusOr<CommandResult> RunCommand(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const std::string& stdin_data = "");

// Returns the Vault binary named by VAULTCA_VAULT_BIN, or NotFound saying
// how to provide one.
absl::StatusOr<std::string> VaultBinary();

// True when VAULTCA_ALLOW_NO_VAULT=1: a missing binary skips instead of
// failing.
bool MissingVaultAllowed();

class RealVault;

// Starts the Vault a test suite shares: the binary from VAULTCA_VAULT_BIN,
// fresh TLS material, a server initialised and unsealed. On success the
// suite owns *tls and *vault (set here, freed in its TearDownTestSuite).
// The error names VAULTCA_VAULT_BIN when the binary is missing.
absl::Status StartSuiteVault(TestTls** tls, RealVault** vault);

class RealVault {
 public:
  // Starts `binary` as `vault server` with a TCP TLS listener using
  // tls.server_cert_file/server_key_file on a free 127.0.0.1 port, waits
  // for it, initialises it (1 share) and unseals it.
  static absl::StatusOr<std::unique_ptr<RealVault>> Start(
      const std::string& binary, const TestTls& tls);
  // Stops the server (SIGTERM, then SIGKILL after 10 s).
  ~RealVault();

  std::string address() const;
  const std::string& root_token() const { return root_token_; }
  const std::string& unseal_key() const { return unseal_key_; }
  const std::string& dir() const { return dir_; }

  // Runs `vault <args>` against this server as root (or with `token`),
  // returning stdout; fails with the command's stderr on a non-zero exit.
  absl::StatusOr<std::string> Cli(const std::vector<std::string>& args,
                                  const std::string& token = "",
                                  const std::string& stdin_data = "") const;
  // Like Cli, returning the whole result whatever the exit code.
  absl::StatusOr<CommandResult> CliResult(
      const std::vector<std::string>& args, const std::string& token = "") const;

  // Returns the server's log so far (for failure messages).
  std::string Log() const;

  // Freezes (SIGSTOP) or thaws (SIGCONT) the server: a frozen Vault accepts
  // connections and never answers, as one behind a dead network path does.
  void Freeze() const;
  void Thaw() const;

 private:
  RealVault() = default;
  absl::Status WaitForListener();
  absl::Status InitAndUnseal();

  std::string binary_;
  std::string ca_file_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string root_token_;
  std::string unseal_key_;
};

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_REAL_VAULT_H_
