#ifndef VAULTCA_SERVER_KUBE_TESTING_FAKE_KUBE_API_H_
#define VAULTCA_SERVER_KUBE_TESTING_FAKE_KUBE_API_H_

// A fake Kubernetes API server on 127.0.0.1 over real TLS, for tests only:
// TokenReview and pod reads (GET, LIST, WATCH), as vaultca-server uses
// them. Tests of behaviour a real API server shows belong against
// RealKube (real_kube.h); this fake is for unit tests and for the faults a
// real API server cannot be made to produce on demand (ExpireWatches,
// SendGarbage, DropWatches).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/sync.h"

#include "nlohmann/json.hpp"

namespace httplib {
class SSLServer;
struct Request;
struct Response;
}  // namespace httplib

namespace vaultca {
namespace server {
namespace testing {

class FakeKubeApi {
 public:
  // Writes a CA, a serving certificate for 127.0.0.1 and the client token
  // into `dir`, and starts serving. Aborts the test binary on failure.
  explicit FakeKubeApi(const std::string& dir);
  ~FakeKubeApi();

  // "https://127.0.0.1:<port>".
  std::string address() const;
  // The CA bundle that verifies the server, and the file holding the token
  // the server accepts from its client.
  std::string ca_file() const { return dir_ + "/kube-server-ca.crt"; }
  std::string token_file() const { return dir_ + "/kube-token"; }

  // Makes TokenReview accept `token` as the given service account (pod
  // name and uid in user.extra when not empty).
  void AddToken(const std::string& token, const std::string& ns,
                const std::string& sa, const std::string& pod_name = "",
                const std::string& pod_uid = "") ABSL_LOCKS_EXCLUDED(mu_);
  // Adds pod ns/name, or replaces the pod of that name (ADDED or MODIFIED
  // to watchers).
  void AddPod(const std::string& ns, const std::string& name,
              const std::string& uid, const std::string& sa,
              const std::string& node, const std::string& phase = "Running")
      ABSL_LOCKS_EXCLUDED(mu_);
  // MODIFIED to watchers. No-op for an unknown pod.
  void SetPodPhase(const std::string& ns, const std::string& name,
                   const std::string& phase) ABSL_LOCKS_EXCLUDED(mu_);
  // DELETED to watchers. No-op for an unknown pod.
  void DeletePod(const std::string& ns, const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Answers every request with HTTP 503.
  void SetDown(bool down) ABSL_LOCKS_EXCLUDED(mu_);

  // Wire faults. Sends every open watch an ERROR event with code 410 (the
  // resourceVersion is too old) and forgets the event history, so a watch
  // from an older resourceVersion is answered HTTP 410.
  void ExpireWatches() ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the event history without telling open watches, so the next
  // watch from any resourceVersion a client holds is answered HTTP 410.
  void ForgetHistory() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends every open watch a line that is not JSON.
  void SendGarbage() ABSL_LOCKS_EXCLUDED(mu_);
  // Closes every open watch's connection mid-stream (no final chunk).
  void DropWatches() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends every open watch a BOOKMARK at the current resourceVersion.
  void SendBookmark() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until `n` watches are open; false after `timeout`.
  bool WaitForWatches(int n, absl::Duration timeout) const
      ABSL_LOCKS_EXCLUDED(mu_);

  int token_reviews() const ABSL_LOCKS_EXCLUDED(mu_);
  // The audiences of the last TokenReview.
  std::vector<std::string> last_audiences() const ABSL_LOCKS_EXCLUDED(mu_);
  // Requests for /api/v1/pods without watch (LIST pages), with watch, and
  // for /api/v1/namespaces/<ns>/pods[/<name>] (GET and namespaced LIST).
  int pod_lists() const ABSL_LOCKS_EXCLUDED(mu_);
  int pod_watches() const ABSL_LOCKS_EXCLUDED(mu_);
  int namespaced_pod_reads() const ABSL_LOCKS_EXCLUDED(mu_);
  int open_watches() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t resource_version() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Account {
    std::string ns, sa, pod_name, pod_uid;
  };
  struct Pod {
    std::string ns, name, uid, sa, node, phase;
    int64_t resource_version = 0;
  };
  struct Event {
    std::string type;
    Pod pod;
  };
  // Where one open watch is: the last resourceVersion sent and the fault
  // generations it has acted on.
  struct WatchCursor {
    int64_t last_sent = 0;
    int expire = 0, garbage = 0, drop = 0, bookmark = 0;
    absl::Time end;
  };
  static nlohmann::json PodJson(const Pod& pod);
  static std::string StatusJson(int code, const std::string& reason,
                                const std::string& message);
  void Install();
  void Watch(const httplib::Request& req, httplib::Response& res)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ForgetHistoryLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records an event at the next resourceVersion and wakes the watchers.
  void Emit(const std::string& type, Pod pod)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Pod>::iterator FindPod(const std::string& ns,
                                     const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
  mutable Mutex mu_;
  mutable CondVar changed_;
  std::map<std::string, Account> tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<Pod> pods_ ABSL_GUARDED_BY(mu_);
  // Every change since the history was last forgotten, in order.
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  int64_t resource_version_ ABSL_GUARDED_BY(mu_) = 1;
  // Watches from an older resourceVersion are answered 410.
  int64_t oldest_watchable_ ABSL_GUARDED_BY(mu_) = 1;
  // Bumped by each fault; an open watch acts on each bump it sees.
  int expire_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int garbage_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int drop_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int bookmark_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int token_reviews_ ABSL_GUARDED_BY(mu_) = 0;
  int pod_lists_ ABSL_GUARDED_BY(mu_) = 0;
  int pod_watches_ ABSL_GUARDED_BY(mu_) = 0;
  int namespaced_pod_reads_ ABSL_GUARDED_BY(mu_) = 0;
  int open_watches_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> last_audiences_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_TESTING_FAKE_KUBE_API_H_
