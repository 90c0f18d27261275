#ifndef VAULTCA_SERVER_KUBE_INTERNAL_POD_STORE_H_
#define VAULTCA_SERVER_KUBE_INTERNAL_POD_STORE_H_

#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "server/kube/pod_index.h"

namespace vaultca {
namespace server {
namespace internal {

// Pods by namespace and name, and a count of live pods (IsLive) by (node,
// namespace, service account): istiod's "node+sa" index. A plain value;
// the owner locks.
class PodStore {
 public:
  // Adds `pod` or replaces the pod of the same namespace and name.
  void Upsert(PodInfo pod);
  void Remove(absl::string_view kube_namespace, absl::string_view name);

  // Null when there is no such pod; valid until the next change.
  const PodInfo* Find(absl::string_view kube_namespace,
                      absl::string_view name) const;
  int CountLive(absl::string_view node, absl::string_view kube_namespace,
                   absl::string_view service_account) const;
  size_t size() const { return pods_.size(); }

  void swap(PodStore& other) {
    pods_.swap(other.pods_);
    running_.swap(other.running_);
  }

 private:
  using PodKey = std::pair<std::string, std::string>;
  using NodeKey = std::tuple<std::string, std::string, std::string>;

  // Adds `delta` to the pod's (node, namespace, account) count when it is
  // live on a node.
  void Count(const PodInfo& pod, int delta);

  absl::flat_hash_map<PodKey, PodInfo> pods_;
  absl::flat_hash_map<NodeKey, int> running_;
};

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_INTERNAL_POD_STORE_H_
