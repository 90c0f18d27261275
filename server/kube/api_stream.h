#ifndef VAULTCA_SERVER_KUBE_API_STREAM_H_
#define VAULTCA_SERVER_KUBE_API_STREAM_H_

// Reading Kubernetes API server responses: Status bodies and watch streams.
// Shared by the pod informer and server/mesh's watches.

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace server {

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

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_API_STREAM_H_
