#ifndef VAULTCA_SERVER_READINESS_H_
#define VAULTCA_SERVER_READINESS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "common/sync.h"

namespace vaultca {
namespace server {

// Proves the CA can sign, as SPIRE's readiness check does: issues a
// throwaway workload certificate for a probe identity and verifies it
// against the root bundle that came with it. The result is cached for
// `cache_for` so frequent /ready polls cost one signature per period.
// Thread-safe.
class SigningProbe {
 public:
  static absl::StatusOr<std::unique_ptr<SigningProbe>> New(
      std::string trust_domain, absl::Duration cache_for = absl::Seconds(5),
      std::function<absl::Time()> clock = [] { return absl::Now(); });

  // OK when a probe certificate was issued and verified within the cache
  // period; otherwise the signing or verification error.
  absl::Status Check(ca::CertificateAuthority& ca) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  SigningProbe(std::string identity, std::string csr_pem,
               absl::Duration cache_for, std::function<absl::Time()> clock);
  absl::Status SignAndVerify(ca::CertificateAuthority& ca, absl::Time now);

  const std::string identity_;
  const std::string csr_pem_;
  const absl::Duration cache_for_;
  const std::function<absl::Time()> clock_;
  Mutex mu_;
  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_READINESS_H_
