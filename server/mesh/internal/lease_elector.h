#ifndef VAULTCA_SERVER_MESH_INTERNAL_LEASE_ELECTOR_H_
#define VAULTCA_SERVER_MESH_INTERNAL_LEASE_ELECTOR_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "nlohmann/json.hpp"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {
namespace mesh_internal {

struct LeaseElectorOptions {
  std::string lease_namespace;
  std::string lease_name;
  // This replica's holderIdentity; unique among the candidates.
  std::string identity;
  // How long others wait, after they last saw the lease change, before
  // taking it (leaseDurationSeconds, whole seconds).
  absl::Duration lease_duration = absl::Seconds(15);
  // The holder gives up leadership when it could not renew for this long;
  // below lease_duration, so it stops before another may start.
  absl::Duration renew_deadline = absl::Seconds(10);
  // Between attempts to acquire or renew.
  absl::Duration retry_period = absl::Seconds(2);
  // On destruction the holder empties holderIdentity so another replica
  // takes over at once instead of after lease_duration.
  bool release_on_stop = true;
  // Starts every log line ("root publisher").
  std::string log_prefix = "root publisher";
};

// Leader election over a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does it: the holder renews renewTime every retry_period
// with a resourceVersion precondition; a candidate takes the lease once it
// has seen no change for leaseDurationSeconds (measured on its own clock
// from when it observed the last change, so clocks need not agree),
// setting acquireTime and counting leaseTransitions.
class LeaseElector {
 public:
  // Starts campaigning. `on_change(true/false)` runs on the elector's
  // thread whenever leadership is gained or lost.
  LeaseElector(std::shared_ptr<const KubeApiClient> api,
               LeaseElectorOptions options,
               std::function<void(bool leader)> on_change);
  // Stops campaigning (releasing the lease when configured to).
  ~LeaseElector();

  // Whether this replica may act as the leader right now: it holds the
  // lease and renewed it less than renew_deadline ago. Turns false on time
  // alone, even while a renewal hangs.
  bool IsLeader() const ABSL_LOCKS_EXCLUDED(mu_);

  struct Stats {
    int acquisitions = 0;
    int renewals = 0;
    int losses = 0;
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Returns true when this replica holds the lease after the attempt.
  absl::StatusOr<bool> TryAcquireOrRenew() ABSL_LOCKS_EXCLUDED(mu_);
  void Release() ABSL_LOCKS_EXCLUDED(mu_);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void SetLeader(bool leader) ABSL_LOCKS_EXCLUDED(mu_);
  std::string LeasePath() const;

  const std::shared_ptr<const KubeApiClient> api_;
  const LeaseElectorOptions options_;
  const std::function<void(bool)> on_change_;

  mutable Mutex mu_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time renewed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Only the elector's thread touches these.
  // The lease as last read: what changed in it restarts the wait.
  std::string observed_record_;
  absl::Time observed_at_ = absl::InfinitePast();
  // The lease as last written by this replica, for the release.
  nlohmann::json held_;

  // Last: starts once everything above is built.
  std::thread thread_;
};

// A Kubernetes MicroTime ("2006-01-02T15:04:05.000000Z").
std::string MicroTime(absl::Time t);

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_INTERNAL_LEASE_ELECTOR_H_
