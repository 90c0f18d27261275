#ifndef VAULTCA_SERVER_AUTH_KUBE_NODE_AUTHORIZER_H_
#define VAULTCA_SERVER_AUTH_KUBE_NODE_AUTHORIZER_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/certificate_handler.h"
#include "server/kube/pod_index.h"

namespace vaultca {
namespace server {

// istiod's node authorizer for ztunnel's impersonation, answered from a
// watched pod index as istiod answers it from its informer: the caller's
// pod (from its token) must exist with the token's uid and service account
// and be on a node, and at least one Running pod of the impersonated
// service account must be on that node. (The trusted account list is
// checked by CertificateHandler first.) No call reaches the API server.
// Thread-safe.
class KubeNodeAuthorizer : public ImpersonationAuthorizer {
 public:
  // A request that arrives before the index's first LIST is in waits up to
  // `first_sync_wait` for it (the server does not hold its start-up for the
  // API server), then answers Unavailable.
  explicit KubeNodeAuthorizer(std::shared_ptr<const PodIndex> pods,
                              absl::Duration first_sync_wait = absl::Seconds(3))
      : pods_(std::move(pods)), first_sync_wait_(first_sync_wait) {}

  // PermissionDenied naming the failed check; Unavailable while the index
  // has not loaded the pods or has lost the API server for too long.
  absl::Status Authorize(const Caller& node,
                         const ServiceAccountRef& target) override;

 private:
  const std::shared_ptr<const PodIndex> pods_;
  const absl::Duration first_sync_wait_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_KUBE_NODE_AUTHORIZER_H_
