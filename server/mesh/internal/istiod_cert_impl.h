#ifndef VAULTCA_SERVER_MESH_INTERNAL_ISTIOD_CERT_IMPL_H_
#define VAULTCA_SERVER_MESH_INTERNAL_ISTIOD_CERT_IMPL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "nlohmann/json.hpp"
#include "server/kube/kube_api.h"
#include "server/mesh/internal/lease_elector.h"
#include "server/mesh/internal/object_watch.h"
#include "server/mesh/internal/tls_secret_check.h"
#include "server/mesh/istiod_cert.h"

namespace vaultca {
namespace server {
namespace mesh_internal {

// IstiodCertificate as a watch of the one Secret, the lease elector and a
// worker that, while this replica leads, checks the Secret whenever
// something changed (the Secret, the CA, the leadership) or its renewal is
// due, and writes a new certificate only when the check fails or the
// renewal is due.
class IstiodCertImpl : public IstiodCertificate {
 public:
  IstiodCertImpl(std::shared_ptr<const KubeApiClient> api,
                 IstiodCertOptions options, ca::CertificateAuthority* ca);
  ~IstiodCertImpl() override;

  void SetCa(std::string root_bundle_pem, std::string signing_cert_pem) override
      ABSL_LOCKS_EXCLUDED(mu_);
  bool IsLeader() const override;
  Stats stats() const override ABSL_LOCKS_EXCLUDED(mu_);
  bool WaitCurrent(absl::Duration timeout) const override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The Secret as last seen.
  struct Seen {
    bool exists = false;
    std::string resource_version;
    std::string type;
    TlsSecretData data;
  };
  // What the worker works from.
  struct Snapshot {
    Seen seen;
    std::string root;
    std::string signer;
    uint64_t version = 0;
  };
  struct Outcome {
    enum Kind {
      kCurrent,   // usable and not due: nothing written
      kWritten,   // a new certificate is in the Secret
      kRecheck,   // the Secret was re-read after a conflict
      kRetry,     // issuing or writing failed
      kDelay,     // a write is due but held back until renew_at
      kNotLeader,
    } kind;
    absl::Time renew_at = absl::InfiniteFuture();
    absl::Time not_after = absl::InfinitePast();
  };

  void OnList(std::vector<nlohmann::json> items) ABSL_LOCKS_EXCLUDED(mu_);
  void OnEvent(ObjectEvent event, const nlohmann::json& object)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnLeader(bool leader) ABSL_LOCKS_EXCLUDED(mu_);
  // Notes a change the worker must look at.
  void Touch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a Secret the API server returned or announced.
  void Record(const nlohmann::json& object) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  Outcome Reconcile(const Snapshot& snapshot) ABSL_LOCKS_EXCLUDED(mu_);
  Outcome Issue(const Snapshot& snapshot, const std::string& reason)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Creates or updates the Secret with `data`; kWritten or kRecheck or
  // kRetry.
  Outcome Write(const Snapshot& snapshot, const TlsSecretData& data)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Re-reads the Secret after a conflict; false when that failed.
  bool Refetch() ABSL_LOCKS_EXCLUDED(mu_);
  // When a usable certificate of this validity is due for renewal.
  absl::Time RenewAt(absl::Time not_before, absl::Time not_after) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::string SecretPath() const;

  const std::shared_ptr<const KubeApiClient> api_;
  const IstiodCertOptions options_;
  const std::vector<std::string> dns_names_;
  ca::CertificateAuthority* const ca_;

  mutable Mutex mu_;
  mutable CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  std::string root_ ABSL_GUARDED_BY(mu_);
  std::string signer_ ABSL_GUARDED_BY(mu_);
  Seen seen_ ABSL_GUARDED_BY(mu_);
  // Bumped on every change; a check of an older state decides nothing.
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  // Something changed since the last check.
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;
  // The last check found the Secret usable and nothing changed since.
  bool current_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  // When this process last wrote a certificate.
  absl::Time last_written_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The least time between two writes: zero after a quiet minute, growing
  // while writes follow each other closely.
  absl::Duration write_spacing_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Built last, destroyed first (the destructor orders it).
  std::unique_ptr<ObjectWatch> watch_;
  std::unique_ptr<LeaseElector> elector_;
  std::thread worker_;
};

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_INTERNAL_ISTIOD_CERT_IMPL_H_
