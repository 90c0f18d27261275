#ifndef VAULTCA_CA_CACHING_CACHING_CA_H_
#define VAULTCA_CA_CACHING_CACHING_CA_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/caching/material_validator.h"
#include "ca/certificate_authority.h"
#include "ca/key_cert_bundle.h"
#include "ca/issuance_policy.h"
#include "ca/managed_ca.h"
#include "ca/sources/material_source.h"
#include "common/secret_data.h"
#include "common/sync.h"

namespace vaultca {
namespace ca {

struct CachingCaOptions {
  // The issuance policy: built once by New, applied by the
  // LocalCertificateAuthority built over each material, and the same
  // object across rotations (policy()).
  IssuancePolicyOptions policy;

  // Period between refreshes while the source is healthy...
  absl::Duration refresh_interval = absl::Minutes(1);
  // ...randomised by up to this fraction either way, so replicas do not
  // hit the source in step.
  double refresh_jitter = 0.1;
  // After a failed refresh: retry after min_retry_backoff, doubling per
  // consecutive failure up to max_retry_backoff (and never longer than
  // refresh_interval); each wait is randomised to [half, full].
  absl::Duration min_retry_backoff = absl::Seconds(1);
  absl::Duration max_retry_backoff = absl::Seconds(30);

  // Material no refresh has confirmed for this long is "stale": reported
  // (Stats, a warning in the log) but still signed with, because every
  // replica sees the same source outage and a readiness probe that failed
  // on staleness would take every endpoint out of service at once while
  // valid material is cached.
  absl::Duration max_staleness = absl::Minutes(30);
  // The older behaviour: stale material also makes Readiness fail.
  bool stale_means_not_ready = false;

  // How long New keeps retrying the first load, and what it does after.
  absl::Duration startup_deadline = absl::Seconds(30);
  StartupPolicy startup_policy = StartupPolicy::kFailAfterDeadline;

  // ISTIO_MULTIROOT_MESH: accept new material whose root bundle drops a
  // current root. Off: such material is rejected (cause kRootPolicy).
  bool multi_root = false;

  // Run the background refresh thread (interval, backoff and source change
  // events). Off: only explicit Refresh() calls refresh; for tests.
  bool refresh_thread = true;

  // Time source for validation, staleness and expiry; tests inject one.
  // Thread waits use real time regardless.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// The caching CA's statistics are the managed CA's (the material in
// service is the signing certificate).
using CachingCaStats = CaStats;

// A CertificateAuthority that signs with the latest good material from a
// MaterialSource and rotates it without a restart or a failed request.
//
// The material in service and its LocalCertificateAuthority sit behind one
// atomically swapped std::shared_ptr: Sign loads it and signs, never
// waiting for a refresh or a contended lock; a signer keeps the material
// it loaded alive until it is done. A refresh fetches from the source,
// validates (see ValidateMaterial) and checks the root policy before the
// swap; anything rejected is logged with its reason and counted, and the
// old material stays in service. When the source is down, signing goes on
// with the last good material; readiness turns false after max_staleness,
// and signing stops (Unavailable) once the signing cert expires.
//
// Thread-safe.
class CachingCertificateAuthority : public ManagedCertificateAuthority {
 public:
  // Takes ownership of `source`, loads the first material (retrying with
  // backoff until options.startup_deadline; see StartupPolicy) and starts
  // the refresh thread. InvalidArgument for inconsistent options
  // (including the issuance policy's).
  static absl::StatusOr<std::unique_ptr<CachingCertificateAuthority>> New(
      std::unique_ptr<MaterialSource> source, CachingCaOptions options);

  // Stops the refresh thread and source notifications, and joins.
  ~CachingCertificateAuthority() override;
  CachingCertificateAuthority(const CachingCertificateAuthority&) = delete;
  CachingCertificateAuthority& operator=(const CachingCertificateAuthority&) =
      delete;

  // Signs with the material in service. Unavailable before the first load
  // and after the signing cert expired (the message says since when and
  // the last refresh error); otherwise what LocalCertificateAuthority says.
  absl::StatusOr<SignedChain> Sign(const SignRequest& request) override;
  // Signs with the material already loaded; refreshes run on their own
  // thread.
  bool SignMayBlock() const override { return false; }

  // The root bundle of the material in service; Unavailable before the
  // first load.
  absl::StatusOr<std::string> RootBundlePem() override;

  const IssuancePolicy& policy() const override { return *policy_; }

  // Fetches, validates and, when the material changed and passes, swaps it
  // in. OK when the source's material is in service afterwards (changed or
  // not); otherwise the error (also logged and counted), with the previous
  // material still in service. Serialised with the refresh thread.
  absl::Status Refresh();

  // OK when the CA can sign: material loaded and the signing cert not
  // expired (and, with stale_means_not_ready, the last successful refresh
  // no older than max_staleness). Otherwise Unavailable (nothing loaded) or
  // FailedPrecondition (expired, stale), with a message naming the cause
  // and the last refresh error.
  absl::Status Readiness() const override;

  // The material in service, or nullptr before the first load.
  std::shared_ptr<const KeyCertBundle> CurrentBundle() const override;

  // generation counts the materials put in service; chain_not_after is
  // the earliest NotAfter of the signing certificate and its chain.
  CachingCaStats Stats() const override;

  // The source's Description().
  const std::string& source_description() const override {
    return description_;
  }

 private:
  CachingCertificateAuthority(std::unique_ptr<MaterialSource> source,
                              CachingCaOptions options,
                              std::shared_ptr<const IssuancePolicy> policy);

  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  absl::Status RecordFailure(RefreshFailureCause cause, absl::Time now,
                             const absl::Status& status)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ReadinessAt(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);
  // FailedPrecondition describing the staleness when the last successful
  // refresh is older than max_staleness at `now`.
  absl::Status StalenessAt(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);
  std::string LastErrorSuffix() const ABSL_LOCKS_EXCLUDED(mu_);

  // Refreshes after `first_wait`, then per interval or backoff.
  void RefreshLoop(int initial_failures, absl::Duration first_wait);
  // Sleeps up to `wait`; returns early on a change event. False on stop.
  bool WaitForNextRefresh(absl::Duration wait) ABSL_LOCKS_EXCLUDED(mu_);
  void OnSourceChange() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration JitteredInterval();
  absl::Duration Backoff(int consecutive_failures);

  const CachingCaOptions options_;
  const std::shared_ptr<const IssuancePolicy> policy_;
  const std::unique_ptr<MaterialSource> source_;
  const std::string description_;

  // The material in service. Accessed only with std::atomic_load /
  // std::atomic_store; never null after the first successful load.
  std::shared_ptr<const ServingMaterial> serving_;

  // Serialises refreshes (held across the fetch and validation).
  Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // What was last put in service, to skip re-validating unchanged material.
  std::optional<CaMaterialPem> serving_pem_ ABSL_GUARDED_BY(refresh_mu_);

  // Guards statistics and the refresh thread's wake-up state; held briefly.
  mutable Mutex mu_;
  CondVar wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool change_pending_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_refresh_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_success_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_rotation_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  // Rate-limits logging of a failure that keeps repeating.
  absl::Time last_failure_logged_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t suppressed_failure_logs_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t refreshes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rotations_ ABSL_GUARDED_BY(mu_) = 0;
  RefreshFailureCounts failures_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_CACHING_CA_H_
