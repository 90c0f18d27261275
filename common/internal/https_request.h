#ifndef VAULTCA_COMMON_INTERNAL_HTTPS_REQUEST_H_
#define VAULTCA_COMMON_INTERNAL_HTTPS_REQUEST_H_

// One-shot HTTPS exchanges for the small control-plane calls vaultca makes
// besides Vault (the Kubernetes API, JWKS documents). The Vault client keeps
// its own pooled transport because it needs retries and connection reuse.

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

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

}  // namespace internal
}  // namespace vaultca

#endif  // VAULTCA_COMMON_INTERNAL_HTTPS_REQUEST_H_
