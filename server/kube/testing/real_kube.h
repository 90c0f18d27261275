#ifndef VAULTCA_SERVER_KUBE_TESTING_REAL_KUBE_H_
#define VAULTCA_SERVER_KUBE_TESTING_REAL_KUBE_H_

// Test-only: a real Kubernetes control plane (the stock etcd and
// kube-apiserver, started by kube-testbed from VAULTCA_KUBE_BIN_DIR, see
// tools/kube/) and the admin calls tests need to set up the objects a
// cluster would have. There is no kubelet and no controller manager: a Pod
// is an API object whose phase tests set through the status subresource,
// and new namespaces get no default ServiceAccount.

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {
namespace testing {

// True when VAULTCA_ALLOW_NO_KUBE=1: a missing control plane skips the
// real-Kubernetes tests instead of failing them.
bool MissingKubeAllowed();

class RealKube {
 public:
  // Starts kube-testbed (VAULTCA_KUBE_BIN_DIR/kube-testbed) in a fresh
  // temporary directory and waits until the API server is ready. NotFound
  // naming VAULTCA_KUBE_BIN_DIR when the binaries are missing.
  static absl::StatusOr<std::unique_ptr<RealKube>> Start();
  // Stops the API server and etcd.
  ~RealKube();

  // "https://127.0.0.1:<port>".
  const std::string& address() const { return address_; }
  // The cluster CA, which the API server's certificate chains to.
  const std::string& ca_file() const { return ca_file_; }
  // A file holding the admin's bearer token (group system:masters).
  const std::string& admin_token_file() const { return admin_token_file_; }
  // The service-account token issuer ("iss" of every token).
  const std::string& issuer() const { return issuer_; }
  const std::string& dir() const { return dir_; }
  // How long the control plane took to become ready.
  absl::Duration ready_after() const { return ready_after_; }
  pid_t apiserver_pid() const { return apiserver_pid_; }
  // A client that acts as the admin.
  std::shared_ptr<const KubeApiClient> admin() const { return admin_; }

  // `method` `path` as the admin with an optional JSON body. Returns the
  // answer's JSON; any status but 2xx is an error carrying the status and
  // the API server's message.
  absl::StatusOr<nlohmann::json> Call(
      const char* method, const std::string& path,
      const nlohmann::json* body = nullptr,
      absl::string_view content_type = "application/json") const;

  absl::Status CreateNamespace(const std::string& name) const;
  absl::Status CreateServiceAccount(const std::string& ns,
                                    const std::string& name) const;
  absl::Status DeleteServiceAccount(const std::string& ns,
                                    const std::string& name) const;
  // Binds `cluster_role` to the service account ns/name
  // (a ClusterRoleBinding named `binding`).
  absl::Status BindClusterRole(const std::string& binding,
                               const std::string& cluster_role,
                               const std::string& ns,
                               const std::string& name) const;

  // Creates Pod ns/name running as `service_account` on `node` and sets its
  // phase (empty: left Pending). Returns the pod's uid.
  absl::StatusOr<std::string> CreatePod(const std::string& ns,
                                        const std::string& name,
                                        const std::string& service_account,
                                        const std::string& node,
                                        const std::string& phase = "Running") const;
  absl::Status SetPodPhase(const std::string& ns, const std::string& name,
                           const std::string& phase) const;
  // Deletes at once (grace period 0; no kubelet would confirm otherwise).
  absl::Status DeletePod(const std::string& ns, const std::string& name) const;

  struct TokenOptions {
    // Empty: the API server's own audience (the issuer).
    std::vector<std::string> audiences;
    // The API server refuses less than 10 minutes.
    absl::Duration ttl = absl::Minutes(10);
    // Bind the token to this pod (name and uid), as kubelet does.
    std::string pod_name;
    std::string pod_uid;
  };
  // A token from the TokenRequest API for service account ns/name.
  absl::StatusOr<std::string> RequestToken(const std::string& ns,
                                           const std::string& name,
                                           const TokenOptions& options) const;
  // What the API server's own TokenReview says of `token` right now.
  absl::StatusOr<bool> Authenticated(
      const std::string& token, const std::vector<std::string>& audiences) const;
  // Polls Authenticated until it answers `want` (the API server caches
  // reviews for about ten seconds after a bound object goes away).
  absl::Status WaitAuthenticated(const std::string& token,
                                 const std::vector<std::string>& audiences,
                                 bool want, absl::Duration timeout) const;

  // The sum of counter `name` on the API server's /metrics over every
  // series whose labels include all of `labels` (name="value" pairs).
  absl::StatusOr<double> Metric(
      const std::string& name,
      const std::vector<std::pair<std::string, std::string>>& labels) const;
  // apiserver_request_total for one resource and verb ("POST", "GET",
  // "LIST", "WATCH"), summed over codes.
  absl::StatusOr<double> Requests(const std::string& resource,
                                  const std::string& verb) const;

  // Freezes (SIGSTOP) or thaws (SIGCONT) the API server process: a frozen
  // server accepts connections and never answers, as one behind a dead
  // network path does.
  void Freeze() const;
  void Thaw() const;

 private:
  RealKube() = default;

  std::string dir_;
  std::string address_;
  std::string ca_file_;
  std::string admin_token_file_;
  std::string issuer_;
  absl::Duration ready_after_;
  pid_t testbed_pid_ = -1;
  pid_t apiserver_pid_ = -1;
  std::shared_ptr<const KubeApiClient> admin_;
};

// Writes `token` into `dir` the way kubelet projects a service-account
// token: the file `dir`/token is a link through `dir`/..data, swapped in
// one rename, so a reader sees the old token or the new one, never half.
// Returns the path to read (`dir`/token).
absl::StatusOr<std::string> ProjectToken(const std::string& dir,
                                         const std::string& token);

// Starts the control plane a test suite shares; the suite owns *kube (set
// here, deleted in its TearDownTestSuite).
absl::Status StartSuiteKube(RealKube** kube);

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_TESTING_REAL_KUBE_H_
