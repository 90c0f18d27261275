#ifndef VAULTCA_SERVER_MESH_INTERNAL_OBJECT_WATCH_H_
#define VAULTCA_SERVER_MESH_INTERNAL_OBJECT_WATCH_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/internal/https_request.h"
#include "common/sync.h"
#include "nlohmann/json.hpp"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {
namespace mesh_internal {

struct ObjectWatchOptions {
  // The collection, e.g. "/api/v1/namespaces" or "/api/v1/configmaps".
  std::string path;
  // Already-escaped selectors ("labelSelector=...&fieldSelector=..."), or "".
  std::string query;
  // For logs and error messages ("namespaces").
  std::string what;
  // Starts every log line ("root publisher").
  std::string log_prefix = "root publisher";
  int list_page_size = 500;
  absl::Duration list_timeout = absl::Minutes(1);
  // As PodIndexOptions: the API server ends each watch after this.
  absl::Duration watch_timeout = absl::Minutes(1);
  absl::Duration idle_timeout = absl::Seconds(90);
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
};

enum class ObjectEvent { kUpsert, kDelete };

// LIST + WATCH of one collection on a background thread, with the pod
// informer's rules: paged LIST, WATCH from its resourceVersion with
// bookmarks, resume after a watch the server ended, backoff after a broken
// one, LIST again after 410 Gone or an ERROR event. Hands every full LIST
// and every event to the owner; keeps no objects itself.
class ObjectWatch {
 public:
  using OnList = std::function<void(std::vector<nlohmann::json> items)>;
  using OnEvent = std::function<void(ObjectEvent, const nlohmann::json&)>;

  // Starts the loop. The callbacks run on the loop's thread, one at a time.
  ObjectWatch(std::shared_ptr<const KubeApiClient> api,
              ObjectWatchOptions options, OnList on_list, OnEvent on_event);
  // Stops at once.
  ~ObjectWatch();

  struct Stats {
    int lists = 0;    // complete LISTs handed over
    int watches = 0;  // WATCH requests
    int events = 0;   // events handed over (bookmarks excluded)
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class WatchEnd { kServerClosed, kTooShort, kBroken, kRelist, kStopped };

  void Run();
  absl::StatusOr<std::string> List();
  WatchEnd Watch(std::string* resource_version);
  bool Sleep(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string Url(absl::string_view extra) const;

  const std::shared_ptr<const KubeApiClient> api_;
  const ObjectWatchOptions options_;
  const OnList on_list_;
  const OnEvent on_event_;
  ::vaultca::internal::HttpsCanceller canceller_;

  mutable Mutex mu_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Last: starts once everything above is built.
  std::thread thread_;
};

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string QueryEscape(absl::string_view value);

// A nested string member ("metadata", "name"), "" when absent.
std::string StringAt(const nlohmann::json& object, const char* outer,
                     const char* inner);

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_INTERNAL_OBJECT_WATCH_H_
