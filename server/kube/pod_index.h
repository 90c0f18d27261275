#ifndef VAULTCA_SERVER_KUBE_POD_INDEX_H_
#define VAULTCA_SERVER_KUBE_POD_INDEX_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {

// What vaultca keeps of a Pod: the fields node authorization reads.
struct PodInfo {
  std::string kube_namespace;
  std::string name;
  std::string uid;
  std::string service_account;
  // spec.nodeName; empty until the pod is scheduled.
  std::string node;
  // status.phase ("Pending", "Running", "Succeeded", "Failed", "Unknown").
  std::string phase;
};

// A pod that runs or is about to: Pending (init containers included),
// Running or Unknown; not Succeeded or Failed. ztunnel asks for a pod's
// certificate while the pod is still Pending, and istiod's index likewise
// keeps every pod but Failed ones; a pod that has terminated runs nothing
// that needs one.
bool IsLive(const PodInfo& pod);

struct PodIndexOptions {
  // Pods per LIST page (client-go's reflector pages by 500 too).
  int list_page_size = 500;
  // A larger LIST page fails the LIST instead of growing memory.
  size_t max_page_bytes = 64 << 20;
  // Each LIST page must be answered within this.
  absl::Duration list_timeout = absl::Minutes(1);
  // The API server is asked to end each watch after this long
  // (timeoutSeconds); the index then resumes from where it was, so this is
  // also how often a quiet cluster costs one WATCH request.
  absl::Duration watch_timeout = absl::Minutes(1);
  // An exchange that brings nothing for this long is taken for dead (a
  // frozen API server, a dead network path). Keep it above watch_timeout:
  // the API server sends bookmarks only once pods have changed since it
  // started, so a healthy watch on a quiet cluster can be silent until the
  // server ends it.
  absl::Duration idle_timeout = absl::Seconds(90);
  // While the LIST/WATCH loop is broken, lookups keep answering from the
  // last state for this long, then fail Unavailable until it recovers.
  absl::Duration max_staleness = absl::Seconds(30);
  // Retry delays after failures: doubled from initial up to max, jittered.
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
};

// Every Pod of the cluster as a watch keeps it: a LIST, then a WATCH from
// that resourceVersion, re-listing when the API server says the watch
// expired, as client-go's informers do. Lookups never call the API server.
// Thread-safe.
class PodIndex {
 public:
  // Starts loading in the background; lookups answer Unavailable until the
  // first LIST is in. `api` needs list and watch on pods in all namespaces.
  static absl::StatusOr<std::unique_ptr<PodIndex>> New(
      std::shared_ptr<const KubeApiClient> api, PodIndexOptions options = {});

  // Stops the background work at once.
  virtual ~PodIndex() = default;

  // True once a full LIST has been loaded (it stays true).
  virtual bool HasSynced() const = 0;
  // Waits until HasSynced or `timeout` passes; returns HasSynced().
  virtual bool WaitForSync(absl::Duration timeout) const = 0;

  // Pod ns/name. NotFound when there is none; Unavailable (saying why)
  // before the first sync or when the watch has been broken for longer
  // than max_staleness.
  virtual absl::StatusOr<PodInfo> GetPod(absl::string_view kube_namespace,
                                         absl::string_view name) const = 0;
  // The number of live pods (IsLive) of service account
  // ns/service_account on `node`. Unavailable as GetPod.
  virtual absl::StatusOr<int> CountLive(
      absl::string_view node, absl::string_view kube_namespace,
      absl::string_view service_account) const = 0;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_POD_INDEX_H_
