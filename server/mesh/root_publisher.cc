#include "server/mesh/root_publisher.h"

#include <utility>

#include "absl/status/status.h"
#include "server/mesh/internal/root_publisher_impl.h"

namespace vaultca {
namespace server {

absl::StatusOr<std::unique_ptr<RootPublisher>> RootPublisher::New(
    std::shared_ptr<const KubeApiClient> api, RootPublisherOptions options,
    std::string root_pem) {
  if (api == nullptr) {
    return absl::InvalidArgumentError("root publisher: no Kubernetes client");
  }
  if (options.configmap_name.empty() || options.data_key.empty()) {
    return absl::InvalidArgumentError(
        "root publisher: the ConfigMap name and data key must be set");
  }
  if (options.lease_namespace.empty() || options.lease_name.empty() ||
      options.identity.empty()) {
    return absl::InvalidArgumentError(
        "root publisher: lease_namespace, lease_name and identity must be "
        "set (identity is usually the pod name, from POD_NAME)");
  }
  if (options.lease_duration < absl::Seconds(1) ||
      options.retry_period <= absl::ZeroDuration() ||
      options.renew_deadline <= options.retry_period ||
      options.renew_deadline >= options.lease_duration) {
    return absl::InvalidArgumentError(
        "root publisher: need retry_period < renew_deadline < "
        "lease_duration (lease_duration at least 1s), so a holder stops "
        "writing before another replica may take the lease");
  }
  return std::unique_ptr<RootPublisher>(new mesh_internal::RootPublisherImpl(
      std::move(api), std::move(options), std::move(root_pem)));
}

}  // namespace server
}  // namespace vaultca
