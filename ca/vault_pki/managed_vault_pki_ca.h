#ifndef VAULTCA_CA_VAULT_PKI_MANAGED_VAULT_PKI_CA_H_
#define VAULTCA_CA_VAULT_PKI_MANAGED_VAULT_PKI_CA_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/managed_ca.h"
#include "ca/vault_pki/vault_pki_ca.h"
#include "common/sync.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {

struct ManagedVaultPkiCaOptions {
  // Mount, role, endpoint, issuer and request policy. root_bundle_pem is
  // optional here: empty means "the self-signed certificates of the
  // issuer's chain as Vault reports it"; set, it pins the roots (the
  // issuer's chain must verify to them).
  VaultPkiCaOptions pki;
  // How often the issuer chain is re-read (an issuer rotation in Vault
  // shows up within this period), and the backoff after a failed read.
  absl::Duration refresh_interval = absl::Minutes(1);
  absl::Duration min_retry_backoff = absl::Seconds(1);
  absl::Duration max_retry_backoff = absl::Seconds(30);
  // An issuer chain no read has confirmed for this long is reported stale.
  absl::Duration max_staleness = absl::Minutes(30);
  // How long New keeps trying the first read, and what it does after.
  absl::Duration startup_deadline = absl::Seconds(30);
  StartupPolicy startup_policy = StartupPolicy::kFailAfterDeadline;
  // Run the background refresh thread. Off: only Refresh(); for tests.
  bool refresh_thread = true;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// The Vault PKI signer as a managed CA, for vaultca-server: it reads the
// signing issuer's chain from Vault (GET <mount>/issuer/<issuer or
// default>/json), derives the roots workloads must trust from it (or takes
// the pinned ones and checks the chain against them), and signs each
// request with a VaultPkiCertificateAuthority over those roots, re-built
// whenever Vault's issuer chain changes. The CA key never leaves Vault, so
// CurrentBundle() is always nullptr: every certificate, the server's own
// included, is signed by Vault.
//
// Readiness: the issuer chain is loaded and the latest refresh succeeded:
// Vault reachable, the token valid (auth/token/lookup-self, which Vault's
// default policy allows: the issuer endpoints need no token), the chain
// verifying to the roots. When Vault cannot be reached nothing can be
// signed, so unlike the caching CA an outage makes the CA not ready at
// once. Whether the role lets this token sign is what the server's signing
// probe proves.
//
// Thread-safe.
class ManagedVaultPkiCa : public ManagedCertificateAuthority {
 public:
  // Validates the options (as VaultPkiCertificateAuthority::New does, with
  // an optional root bundle), reads the issuer chain (see StartupPolicy)
  // and starts the refresh thread.
  static absl::StatusOr<std::unique_ptr<ManagedVaultPkiCa>> New(
      std::shared_ptr<vault::VaultClient> client,
      ManagedVaultPkiCaOptions options);

  ~ManagedVaultPkiCa() override;
  ManagedVaultPkiCa(const ManagedVaultPkiCa&) = delete;
  ManagedVaultPkiCa& operator=(const ManagedVaultPkiCa&) = delete;

  // Unavailable before the issuer chain was read; otherwise what
  // VaultPkiCertificateAuthority::Sign says.
  absl::StatusOr<SignedChain> Sign(const SignRequest& request) override;
  // The roots in use; Unavailable before the issuer chain was read.
  absl::StatusOr<std::string> RootBundlePem() override;
  // Built from options.pki.policy; the same before and after every issuer
  // change.
  const IssuancePolicy& policy() const override { return *policy_; }

  // Reads the issuer chain now and, when it changed, switches to it. OK
  // when the chain Vault reports is in use afterwards. FailedPrecondition
  // when the chain has no self-signed root and none is pinned, or does not
  // verify to the pinned roots; Vault's errors otherwise.
  absl::Status Refresh();

  absl::Status Readiness() const override;
  CaStats Stats() const override;
  std::shared_ptr<const KeyCertBundle> CurrentBundle() const override {
    return nullptr;
  }
  const std::string& source_description() const override {
    return description_;
  }

 private:
  struct Issuer;
  ManagedVaultPkiCa(std::shared_ptr<vault::VaultClient> client,
                    ManagedVaultPkiCaOptions options,
                    std::shared_ptr<const IssuancePolicy> policy,
                    std::string issuer_path);

  absl::StatusOr<std::shared_ptr<const Issuer>> ReadIssuer();
  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  void RefreshLoop(int initial_failures);
  absl::Duration Backoff(int failures) const;

  const std::shared_ptr<vault::VaultClient> client_;
  const ManagedVaultPkiCaOptions options_;
  const std::shared_ptr<const IssuancePolicy> policy_;
  const std::string issuer_path_;
  const std::string description_;

  // The issuer chain in use and its signer. Accessed only with
  // std::atomic_load / std::atomic_store; null before the first read.
  std::shared_ptr<const Issuer> current_;

  Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  mutable Mutex mu_;
  CondVar wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_refresh_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("the issuer chain has not been read yet");
  absl::Time last_refresh_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_success_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_rotation_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t refreshes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rotations_ ABSL_GUARDED_BY(mu_) = 0;
  RefreshFailureCounts failures_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_VAULT_PKI_MANAGED_VAULT_PKI_CA_H_
