#ifndef VAULTCA_VAULT_INTERNAL_HTTP_TRANSPORT_H_
#define VAULTCA_VAULT_INTERNAL_HTTP_TRANSPORT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/secret_data.h"
#include "vault/config.h"

namespace vaultca {
namespace vault {
namespace internal {

// One HTTP request to Vault.
struct HttpRequest {
  // "GET", "POST", "PUT", "DELETE" or "LIST".
  std::string method = "GET";
  // Absolute URL.
  std::string url;
  // Non-secret headers, e.g. {"X-Vault-Request", "true"}.
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as X-Vault-Token when not empty.
  SecretData token;
  // Request body (JSON), sent for POST/PUT. May hold secrets (login).
  SecretData body;
};

// One HTTP response. Error statuses (>= 400) are responses, not errors.
struct HttpResponse {
  int status = 0;
  // Response body; may hold secrets (tokens, KV values).
  SecretData body;
  // Raw Retry-After and Location header values, empty when absent.
  std::string retry_after;
  std::string location;
};

// Performs single HTTP exchanges: no retries, no redirects.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Sends `request` and returns the response, bounded by `deadline`.
  // Failures to get any response are statuses: Unavailable for transient
  // network trouble (refused, reset, truncated), DeadlineExceeded when the
  // deadline passed, FailedPrecondition for configuration problems that a
  // retry cannot fix (TLS verification, unreadable CA file, protocol
  // refused). Messages never contain the token or the body.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                            absl::Time deadline) = 0;
};

// Largest response body accepted; Vault answers are a few KiB.
inline constexpr size_t kMaxResponseBytes = 16 << 20;

// Returns a libcurl transport with the TLS settings of `config`, reusing
// connections across calls (a small pool of easy handles). Fails with
// InvalidArgument when a configured CA/client file cannot be read.
absl::StatusOr<std::unique_ptr<HttpTransport>> NewCurlTransport(
    const VaultConfig& config);

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_HTTP_TRANSPORT_H_
