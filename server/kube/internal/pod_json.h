#ifndef VAULTCA_SERVER_KUBE_INTERNAL_POD_JSON_H_
#define VAULTCA_SERVER_KUBE_INTERNAL_POD_JSON_H_

// The Kubernetes JSON a pod LIST and WATCH answer with, reduced to PodInfo.

#include <functional>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/kube/pod_index.h"

namespace vaultca {
namespace server {
namespace internal {

// One page of GET /api/v1/pods.
struct PodListPage {
  std::vector<PodInfo> pods;
  // metadata.resourceVersion: where a watch picks up.
  std::string resource_version;
  // metadata.continue; empty on the last page.
  std::string continue_token;
};

// InvalidArgument unless `body` is a PodList whose every item has a
// namespace, name and uid.
absl::StatusOr<PodListPage> ParsePodListPage(absl::string_view body);

// One line of a watch stream.
struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kError;
  // The object, for kAdded, kModified and kDeleted.
  PodInfo pod;
  // The object's metadata.resourceVersion (all but kError).
  std::string resource_version;
  // For kError: the Status object's code (410 when the resourceVersion is
  // too old) and message.
  int error_code = 0;
  std::string error_message;
};

// InvalidArgument for anything but a watch event of a known type whose
// object has what that type needs.
absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view line);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_INTERNAL_POD_JSON_H_
