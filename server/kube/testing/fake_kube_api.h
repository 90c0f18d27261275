#ifndef VAULTCA_SERVER_KUBE_TESTING_FAKE_KUBE_API_H_
#define VAULTCA_SERVER_KUBE_TESTING_FAKE_KUBE_API_H_

// A fake Kubernetes API server on 127.0.0.1 over real TLS, for tests only:
// TokenReview and pod reads, as vaultca-server uses them.

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/sync.h"

namespace httplib {
class SSLServer;
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
  // Adds a pod to GET .../pods/<name> and the node-filtered list.
  void AddPod(const std::string& ns, const std::string& name,
              const std::string& uid, const std::string& sa,
              const std::string& node, const std::string& phase = "Running")
      ABSL_LOCKS_EXCLUDED(mu_);
  // Answers every request with HTTP 503.
  void SetDown(bool down) ABSL_LOCKS_EXCLUDED(mu_);

  int token_reviews() const ABSL_LOCKS_EXCLUDED(mu_);
  // The audiences of the last TokenReview.
  std::vector<std::string> last_audiences() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Account {
    std::string ns, sa, pod_name, pod_uid;
  };
  struct Pod {
    std::string ns, name, uid, sa, node, phase;
  };
  void Install();

  const std::string dir_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
  mutable Mutex mu_;
  std::map<std::string, Account> tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<Pod> pods_ ABSL_GUARDED_BY(mu_);
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  int token_reviews_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> last_audiences_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_TESTING_FAKE_KUBE_API_H_
