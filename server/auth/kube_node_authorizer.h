#ifndef VAULTCA_SERVER_AUTH_KUBE_NODE_AUTHORIZER_H_
#define VAULTCA_SERVER_AUTH_KUBE_NODE_AUTHORIZER_H_

#include <memory>

#include "absl/status/status.h"
#include "server/certificate_handler.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {

// istiod's node authorizer for ztunnel's impersonation, through the
// Kubernetes API: the caller's pod (from its token) must exist with the
// token's uid and service account, and at least one running pod of the
// impersonated service account must be on the same node. (The trusted
// account list is checked by CertificateHandler first.) Thread-safe.
class KubeNodeAuthorizer : public ImpersonationAuthorizer {
 public:
  explicit KubeNodeAuthorizer(std::shared_ptr<const KubeApiClient> api)
      : api_(std::move(api)) {}

  // PermissionDenied naming the failed check; Unavailable when the API
  // server could not answer.
  absl::Status Authorize(const Caller& node,
                         const ServiceAccountRef& target) override;

 private:
  const std::shared_ptr<const KubeApiClient> api_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_KUBE_NODE_AUTHORIZER_H_
