#ifndef VAULTCA_SERVER_KUBE_INTERNAL_POD_INFORMER_H_
#define VAULTCA_SERVER_KUBE_INTERNAL_POD_INFORMER_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/internal/https_request.h"
#include "common/sync.h"
#include "server/kube/internal/pod_store.h"
#include "server/kube/kube_api.h"
#include "server/kube/pod_index.h"

namespace vaultca {
namespace server {
namespace internal {

// PodIndex over LIST + WATCH of /api/v1/pods on one background thread:
//   LIST (paged) -> WATCH from its resourceVersion -> on a watch the server
//   ended, WATCH again from the last resourceVersion seen; on a broken
//   connection, the same after a backoff; on 410 Gone, an ERROR event or an
//   unreadable event, LIST again (events may have been missed).
class PodInformer : public PodIndex {
 public:
  // What the loop has done, for tests and logs.
  struct Stats {
    int list_requests = 0;  // LIST pages asked for
    int lists = 0;          // complete LISTs loaded
    int watches = 0;        // WATCH requests
    int events = 0;         // events applied (bookmarks included)
    std::string resource_version;
    size_t pods = 0;
  };

  // Starts the loop.
  PodInformer(std::shared_ptr<const KubeApiClient> api,
              PodIndexOptions options);
  ~PodInformer() override;

  bool HasSynced() const override ABSL_LOCKS_EXCLUDED(mu_);
  bool WaitForSync(absl::Duration timeout) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<PodInfo> GetPod(absl::string_view kube_namespace,
                                 absl::string_view name) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int> CountLive(
      absl::string_view node, absl::string_view kube_namespace,
      absl::string_view service_account) const override
      ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `done(stats())` holds or `timeout` passes; returns whether
  // it held. Re-checked after every change the loop makes.
  template <typename Predicate>
  bool WaitFor(Predicate done, absl::Duration timeout) const
      ABSL_LOCKS_EXCLUDED(mu_) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (!done(stats_)) {
      const absl::Time now = absl::Now();
      if (now >= deadline) return false;
      changed_.WaitWithTimeout(&mu_, deadline - now);
    }
    return true;
  }

 private:
  enum class WatchEnd {
    kServerClosed,  // ended by the server (timeoutSeconds): resume
    kTooShort,      // ended at once with nothing: resume after a backoff
    kBroken,        // transport or HTTP failure: resume after a backoff
    kRelist,        // 410, ERROR or unreadable event: LIST again
    kStopped,
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Loads every pod into a fresh store and swaps it in. Returns the
  // list's resourceVersion.
  absl::StatusOr<std::string> List() ABSL_LOCKS_EXCLUDED(mu_);
  // Watches from *resource_version, advancing it as events apply.
  WatchEnd Watch(std::string* resource_version) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkBroken(const absl::Status& why) ABSL_LOCKS_EXCLUDED(mu_);
  void MarkHealthy() ABSL_LOCKS_EXCLUDED(mu_);
  // False when the index is being destroyed.
  bool Sleep(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  const std::shared_ptr<const KubeApiClient> api_;
  const PodIndexOptions options_;
  ::vaultca::internal::HttpsCanceller canceller_;

  mutable Mutex mu_;
  // Signalled on every change and on stop.
  mutable CondVar changed_;
  PodStore store_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set while LIST/WATCH fail, from the first failure on.
  std::optional<absl::Time> broken_since_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Last: starts once everything above is built.
  std::thread thread_;
};

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_INTERNAL_POD_INFORMER_H_
