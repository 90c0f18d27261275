#ifndef VAULTCA_SERVER_KUBE_KUBE_API_H_
#define VAULTCA_SERVER_KUBE_KUBE_API_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace internal {
class HttpsCanceller;
}  // namespace internal

namespace server {

struct KubeApiOptions {
  // "https://host:port". Empty: in-cluster, from KUBERNETES_SERVICE_HOST and
  // KUBERNETES_SERVICE_PORT.
  std::string api_server;
  // The bearer token vaultca-server presents (its own service account),
  // re-read at every request because projected tokens rotate.
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  // CA bundle the API server's certificate must verify against.
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  absl::Duration timeout = absl::Seconds(10);
  // Environment lookup for the in-cluster address; the process environment
  // when empty.
  std::function<std::optional<std::string>(absl::string_view)> env;
};

struct KubeApiResponse {
  long http_status = 0;
  std::string body;
};

// A GET whose answer is read as it arrives (a LIST too large to hold twice,
// a WATCH that lasts minutes).
struct KubeStreamOptions {
  // Bound on the whole exchange; infinite: none.
  absl::Duration timeout = absl::InfiniteDuration();
  // Fails the exchange when nothing arrives for this long.
  absl::Duration idle_timeout = absl::InfiniteDuration();
  // Ends the exchange from another thread at once; may be null.
  ::vaultca::internal::HttpsCanceller* canceller = nullptr;
};

// A minimal Kubernetes API client over libcurl: HTTPS only, the server
// certificate verified against ca_file, "Authorization: Bearer" with the
// service-account token. Thread-safe; each call uses its own handle.
class KubeApiClient {
 public:
  // Resolves the address and checks that the CA file is readable.
  // InvalidArgument for a bad address, FailedPrecondition for unreadable
  // files (the message names them).
  static absl::StatusOr<std::unique_ptr<KubeApiClient>> New(
      KubeApiOptions options);

  // GET `path` ("/api/v1/..."). Any HTTP status is returned as a response;
  // transport failures (connect, TLS, timeout) are Unavailable.
  absl::StatusOr<KubeApiResponse> Get(const std::string& path) const;
  // POST `json` to `path`. The body is sent from the caller's buffer and
  // never copied, so a secret body can live in SecretData.
  absl::StatusOr<KubeApiResponse> Post(const std::string& path,
                                       absl::string_view json) const;
  // Any verb ("PUT", "PATCH", "DELETE", ...). `body` may be null;
  // `content_type` tells PATCH flavours apart
  // ("application/merge-patch+json", "application/apply-patch+yaml").
  absl::StatusOr<KubeApiResponse> Request(
      const char* method, const std::string& path,
      const absl::string_view* body,
      absl::string_view content_type = "application/json") const;

  // GET `path`, handing the body to `on_body` piece by piece with the HTTP
  // status: first an empty piece once the headers are in, then the body as
  // it arrives. `on_body` returns false to stop early (not an error).
  // Returns the HTTP status; transport failures are Unavailable, a fired
  // canceller Cancelled.
  absl::StatusOr<long> Stream(
      const std::string& path, const KubeStreamOptions& options,
      const std::function<bool(long http_status, absl::string_view piece)>& on_body) const;

  const std::string& address() const { return address_; }

 private:
  KubeApiClient(KubeApiOptions options, std::string address);
  // The request headers with the current service-account token; the
  // caller wipes the first one.
  absl::StatusOr<std::vector<std::string>> Headers(bool has_body,
                                                   absl::string_view content_type) const;

  const KubeApiOptions options_;
  const std::string address_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_KUBE_API_H_
