#ifndef VAULTCA_COMMON_INTERNAL_HTTPS_REQUEST_H_
#define VAULTCA_COMMON_INTERNAL_HTTPS_REQUEST_H_

// One-shot HTTPS exchanges for the small control-plane calls vaultca makes
// besides Vault (the Kubernetes API, JWKS documents). The Vault client keeps
// its own pooled transport because it needs retries and connection reuse.

#include <functional>
#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/sync.h"

namespace vaultca {
namespace internal {

struct HttpsRequestOptions {
  // CA bundle the server's certificate must verify against; empty: the
  // system trust store.
  std::string ca_file;
  absl::Duration timeout = absl::Seconds(10);
  // Larger bodies fail the exchange instead of growing memory without bound.
  size_t max_response_bytes = 4 << 20;
};

struct HttpsResponse {
  long http_status = 0;
  std::string body;
};

// Sends `method` to `url` (https:// only; the peer certificate and host
// name are always verified). `headers` are "Name: value" lines and may
// carry tokens: curl's copies are wiped when freed, the caller wipes its
// own. `body`, when not null, is sent from the caller's buffer without a
// copy. Any HTTP status is a response; transport failures (connect, TLS,
// timeout, oversized body) are Unavailable and name the URL, never a
// header or the body.
absl::StatusOr<HttpsResponse> HttpsRequest(
    const char* method, const std::string& url,
    absl::Span<const std::string> headers, const absl::string_view* body,
    const HttpsRequestOptions& options);

// Ends HttpsStream exchanges from another thread at once (a watch can be
// silent for minutes, so polling a flag between reads would not do).
// Thread-safe.
class HttpsCanceller {
 public:
  HttpsCanceller() = default;
  HttpsCanceller(const HttpsCanceller&) = delete;
  HttpsCanceller& operator=(const HttpsCanceller&) = delete;

  // Aborts the exchange in progress, if any, and makes every later one
  // fail at once.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);
  bool cancelled() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class StreamRegistration;
  // Called by HttpsStream around its transfer: Attach returns false when
  // already cancelled. `multi` is the transfer's CURLM handle.
  bool Attach(void* multi) ABSL_LOCKS_EXCLUDED(mu_);
  void Detach() ABSL_LOCKS_EXCLUDED(mu_);

  mutable Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  void* multi_ ABSL_GUARDED_BY(mu_) = nullptr;
};

struct HttpsStreamOptions {
  // As HttpsRequestOptions::ca_file.
  std::string ca_file;
  // Bound on the whole exchange; infinite: none (a watch ends when the
  // server ends it).
  absl::Duration timeout = absl::InfiniteDuration();
  // The exchange fails when no byte (TLS handshake, headers or body)
  // arrives for this long: a peer that froze or vanished behind a dead
  // network path never closes the connection itself.
  absl::Duration idle_timeout = absl::InfiniteDuration();
};

// Sends a body-less `method` to `url` and hands the response body to
// `on_body` piece by piece as it arrives, with the response's HTTP status
// (known before the first piece). `on_body` returns false to end the
// exchange early, which is then not an error. Returns the HTTP status.
// Unavailable for transport failures (connect, TLS, idle or overall
// timeout, a connection closed mid-body); Cancelled when `canceller` (may
// be null) fired. Headers as HttpsRequest.
absl::StatusOr<long> HttpsStream(
    const char* method, const std::string& url,
    absl::Span<const std::string> headers, const HttpsStreamOptions& options,
    HttpsCanceller* canceller,
    const std::function<bool(long http_status, absl::string_view piece)>& on_body);

}  // namespace internal
}  // namespace vaultca

#endif  // VAULTCA_COMMON_INTERNAL_HTTPS_REQUEST_H_
