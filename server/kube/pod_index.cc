#include "server/kube/pod_index.h"

#include <utility>

#include "absl/status/status.h"
#include "server/kube/internal/pod_informer.h"

namespace vaultca {
namespace server {

bool IsLive(const PodInfo& pod) {
  return pod.phase != "Succeeded" && pod.phase != "Failed";
}

absl::StatusOr<std::unique_ptr<PodIndex>> PodIndex::New(
    std::shared_ptr<const KubeApiClient> api, PodIndexOptions options) {
  if (api == nullptr) {
    return absl::InvalidArgumentError("the pod index needs a Kubernetes API client");
  }
  if (options.list_page_size <= 0 || options.max_page_bytes == 0 ||
      options.list_timeout <= absl::ZeroDuration() ||
      options.watch_timeout < absl::Seconds(1) ||
      options.idle_timeout <= absl::ZeroDuration() ||
      options.max_staleness < absl::ZeroDuration() ||
      options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "pod index options: page size, page bytes, timeouts and backoffs "
        "must be positive (watch_timeout at least 1s, max_backoff at least "
        "initial_backoff)");
  }
  return std::unique_ptr<PodIndex>(
      new internal::PodInformer(std::move(api), std::move(options)));
}

}  // namespace server
}  // namespace vaultca
