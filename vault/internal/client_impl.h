#ifndef VAULTCA_VAULT_INTERNAL_CLIENT_IMPL_H_
#define VAULTCA_VAULT_INTERNAL_CLIENT_IMPL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "common/sync.h"
#include "vault/client.h"
#include "vault/internal/executor.h"
#include "vault/internal/token_schedule.h"

namespace vaultca {
namespace vault {
namespace internal {

// One Vault operation: method, API path (under /v1/) and optional body.
struct Operation {
  std::string method = "GET";
  std::string path;   // Without "/v1/".
  std::string query;  // Without '?', e.g. "version=2"; sent as is.
  SecretData body;
  bool needs_token = true;
  bool retry = true;
};

// The VaultClient behind VaultClient::New.
//
// Locking: refresh_mu_ serialises logins and renewals (network calls) and
// is always taken before mu_, which guards the token and its schedule and
// is never held across the network.
class VaultClientImpl : public VaultClient {
 public:
  VaultClientImpl(const VaultConfig& config, ClientOptions options,
                  std::shared_ptr<const Authenticator> authenticator,
                  std::unique_ptr<HttpTransport> transport);
  ~VaultClientImpl() override;

  absl::StatusOr<KvSecret> ReadKv(absl::string_view path,
                                  int64_t version) override;
  absl::StatusOr<SecretData> ReadReference(const Reference& reference) override;
  absl::StatusOr<std::vector<SecretData>> ReadReferences(
      absl::Span<const Reference> references) override;
  absl::StatusOr<HealthReport> Health() override;
  absl::StatusOr<SecretData> Read(absl::string_view path) override;
  absl::StatusOr<SecretData> Write(absl::string_view path,
                                   absl::string_view body) override;
  absl::StatusOr<SecretData> WriteSecret(absl::string_view path,
                                         const SecretData& body) override;
  absl::Status Delete(absl::string_view path) override;
  absl::Status Login() override;
  TokenInfo token_info() const override;

 private:
  // A token and the generation it belongs to (bumped at every login).
  struct TokenRef {
    SecretData token;
    uint64_t generation = 0;
  };

  // Runs `op` with the current token, re-logging in once on a 403. Returns
  // the final response of any HTTP status.
  absl::StatusOr<HttpResponse> Execute(const Operation& op,
                                       absl::Time deadline);
  // Execute, then maps non-2xx statuses to errors.
  absl::StatusOr<SecretData> ExecuteForBody(const Operation& op);
  HttpRequest BuildRequest(const Operation& op) const;

  // Returns a usable token, logging in when there is none or it expired
  // (or, without the background thread, when renewal or re-login is due).
  absl::StatusOr<TokenRef> CurrentToken(absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);
  // Logs in unless a login newer than `stale_generation` already happened.
  absl::StatusOr<TokenRef> Relogin(uint64_t stale_generation,
                                   absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);
  absl::Status DoLogin(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status DoRenew(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Performs whatever the schedule says is due now.
  void RunDueAction(TokenAction action) ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);
  void RenewalLoop() ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);
  TokenRef Snapshot() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const VaultConfig config_;
  const ClientOptions options_;
  const std::shared_ptr<const Authenticator> authenticator_;
  RequestExecutor executor_;
  const std::string base_url_;

  mutable Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  CondVar cv_;
  SecretData token_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  TokenSchedule schedule_ ABSL_GUARDED_BY(mu_);
  // The lease to ask for at renewal: the token's creation TTL.
  absl::Duration renew_increment_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  TokenInfo stats_ ABSL_GUARDED_BY(mu_);
  std::thread renewal_thread_;
};

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_CLIENT_IMPL_H_
