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

// The "message" of a Kubernetes Status body, "" when there is none; never
// the raw body (it can be anything).
std::string StatusMessage(absl::string_view body);

// Cuts a byte stream into newline-terminated lines, as the API server
// writes watch events (one JSON object and "\n" each). Not thread-safe.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes) : max_(max_line_bytes) {}

  // Calls `on_line` for every complete non-empty line in what has arrived
  // so far; stops early when it returns false. ResourceExhausted when a
  // line grows past max_line_bytes.
  absl::Status Feed(absl::string_view piece,
                    const std::function<bool(absl::string_view line)>& on_line);

 private:
  const size_t max_;
  std::string partial_;
};

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_INTERNAL_POD_JSON_H_
