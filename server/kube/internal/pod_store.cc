#include "server/kube/internal/pod_store.h"

namespace vaultca {
namespace server {
namespace internal {

void PodStore::Upsert(PodInfo pod) {
  PodKey key(pod.kube_namespace, pod.name);
  auto it = pods_.find(key);
  if (it != pods_.end()) {
    Count(it->second, -1);
    it->second = std::move(pod);
    Count(it->second, +1);
    return;
  }
  auto inserted = pods_.emplace(std::move(key), std::move(pod)).first;
  Count(inserted->second, +1);
}

void PodStore::Remove(absl::string_view kube_namespace,
                      absl::string_view name) {
  auto it = pods_.find(PodKey(kube_namespace, name));
  if (it == pods_.end()) return;
  Count(it->second, -1);
  pods_.erase(it);
}

const PodInfo* PodStore::Find(absl::string_view kube_namespace,
                              absl::string_view name) const {
  auto it = pods_.find(PodKey(kube_namespace, name));
  return it == pods_.end() ? nullptr : &it->second;
}

int PodStore::CountLive(absl::string_view node,
                           absl::string_view kube_namespace,
                           absl::string_view service_account) const {
  auto it = running_.find(NodeKey(node, kube_namespace, service_account));
  return it == running_.end() ? 0 : it->second;
}

void PodStore::Count(const PodInfo& pod, int delta) {
  if (!IsLive(pod) || pod.node.empty() || pod.service_account.empty()) {
    return;
  }
  NodeKey key(pod.node, pod.kube_namespace, pod.service_account);
  int& count = running_[key];
  count += delta;
  if (count <= 0) running_.erase(key);
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
