#include "server/auth/kube_node_authorizer.h"

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace vaultca {
namespace server {

absl::Status KubeNodeAuthorizer::Authorize(const Caller& node,
                                           const ServiceAccountRef& target) {
  if (node.pod_name.empty() || node.pod_uid.empty()) {
    return absl::PermissionDeniedError(
        "the caller's token is not bound to a pod, so its node is unknown");
  }
  if (!pods_->HasSynced()) pods_->WaitForSync(first_sync_wait_);
  absl::StatusOr<PodInfo> pod = pods_->GetPod(node.kube_namespace,
                                              node.pod_name);
  if (absl::IsNotFound(pod.status())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "caller pod ", node.kube_namespace, "/", node.pod_name, " not found"));
  }
  if (!pod.ok()) return pod.status();
  if (pod->uid != node.pod_uid) {
    return absl::PermissionDeniedError(
        "the caller pod's uid does not match its token (pod replaced?)");
  }
  if (pod->service_account != node.service_account) {
    return absl::PermissionDeniedError(
        "the caller pod runs under another service account than its token");
  }
  if (pod->node.empty()) {
    return absl::PermissionDeniedError("the caller pod is not on a node");
  }
  if (!IsLive(*pod)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the caller pod has terminated (", pod->phase, ")"));
  }
  absl::StatusOr<int> live =
      pods_->CountLive(pod->node, target.kube_namespace, target.name);
  if (!live.ok()) return live.status();
  if (*live == 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "no pending or running pod of ", target.kube_namespace, "/",
        target.name, " on node ", pod->node));
  }
  return absl::OkStatus();
}

}  // namespace server
}  // namespace vaultca
