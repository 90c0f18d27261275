#ifndef VAULTCA_SERVER_MESH_INTERNAL_ROOT_PUBLISHER_IMPL_H_
#define VAULTCA_SERVER_MESH_INTERNAL_ROOT_PUBLISHER_IMPL_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "nlohmann/json.hpp"
#include "server/kube/kube_api.h"
#include "server/mesh/internal/lease_elector.h"
#include "server/mesh/internal/object_watch.h"
#include "server/mesh/root_publisher.h"

namespace vaultca {
namespace server {
namespace mesh_internal {

// RootPublisher as three loops and a worker: a watch of the selected
// namespaces, a watch of the ConfigMap by name in all namespaces, the
// lease elector, and one worker that, while this replica leads, brings
// each namespace marked pending to the current root with at most one
// write. Every event marks its namespace pending; a new root or a new
// leadership marks them all.
class RootPublisherImpl : public RootPublisher {
 public:
  RootPublisherImpl(std::shared_ptr<const KubeApiClient> api,
                    RootPublisherOptions options, std::string root_pem);
  ~RootPublisherImpl() override;

  void SetRoot(std::string root_pem) override ABSL_LOCKS_EXCLUDED(mu_);
  bool IsLeader() const override;
  Stats stats() const override ABSL_LOCKS_EXCLUDED(mu_);
  bool WaitConverged(absl::Duration timeout) const override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The ConfigMap of one namespace as last seen.
  struct Published {
    std::string resource_version;
    std::string root;
    bool labelled = false;
  };
  enum class Outcome {
    kDone,     // in the wanted state, or nothing to do here
    kRecheck,  // state was stale and has been re-read: check again now
    kRetry,    // the write failed: check again after a backoff
    kNotLeader,
  };

  void OnNamespaces(std::vector<nlohmann::json> items) ABSL_LOCKS_EXCLUDED(mu_);
  void OnNamespace(ObjectEvent event, const nlohmann::json& object)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnConfigMaps(std::vector<nlohmann::json> items) ABSL_LOCKS_EXCLUDED(mu_);
  void OnConfigMap(ObjectEvent event, const nlohmann::json& object)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnLeader(bool leader) ABSL_LOCKS_EXCLUDED(mu_);

  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  Outcome Reconcile(const std::string& ns) ABSL_LOCKS_EXCLUDED(mu_);
  // Re-reads ns's ConfigMap after a conflict; false when that failed.
  bool Refetch(const std::string& ns) ABSL_LOCKS_EXCLUDED(mu_);
  // Records a ConfigMap the API server returned or announced.
  void Record(const nlohmann::json& object) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkAllPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Converged() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A namespace the selector matched that is not being deleted.
  static bool Live(const nlohmann::json& ns);

  const std::shared_ptr<const KubeApiClient> api_;
  const RootPublisherOptions options_;

  mutable Mutex mu_;
  mutable CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  bool namespaces_synced_ ABSL_GUARDED_BY(mu_) = false;
  bool configmaps_synced_ ABSL_GUARDED_BY(mu_) = false;
  std::string root_ ABSL_GUARDED_BY(mu_);
  // Selected namespaces that are not terminating.
  absl::flat_hash_set<std::string> namespaces_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Published> published_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> pending_ ABSL_GUARDED_BY(mu_);
  // Namespaces whose last write failed: when to retry, and the delay
  // that led there.
  struct Delay {
    absl::Time due;
    absl::Duration backoff;
  };
  absl::flat_hash_map<std::string, Delay> delayed_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Built last, destroyed first (the destructor orders it).
  std::unique_ptr<ObjectWatch> namespace_watch_;
  std::unique_ptr<ObjectWatch> configmap_watch_;
  std::unique_ptr<LeaseElector> elector_;
  std::thread worker_;
};

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_INTERNAL_ROOT_PUBLISHER_IMPL_H_
