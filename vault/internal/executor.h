#ifndef VAULTCA_VAULT_INTERNAL_EXECUTOR_H_
#define VAULTCA_VAULT_INTERNAL_EXECUTOR_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vault/internal/http_transport.h"

namespace vaultca {
namespace vault {
namespace internal {

struct RetrySettings {
  int max_retries = 2;
  absl::Duration base_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(10);
};

// Sends requests through an HttpTransport with Vault's retry and redirect
// rules:
//  - follows at most one 307/308 redirect, never from https to http;
//  - retries connection errors, 412, 429 and 5xx except 501 up to
//    max_retries times, waiting JitteredBackoff or Retry-After, whichever
//    is longer, and never past the deadline.
// Thread-safe when the transport and the hooks are.
class RequestExecutor {
 public:
  RequestExecutor(std::unique_ptr<HttpTransport> transport,
                  RetrySettings settings,
                  std::function<void(absl::Duration)> sleep,
                  std::function<double()> uniform01);

  // Returns the final response (any HTTP status) or the final transport
  // error. With `retry` false, makes exactly one attempt (plus redirect).
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                    absl::Time deadline, bool retry = true);

 private:
  absl::StatusOr<HttpResponse> SendFollowingRedirect(const HttpRequest& request,
                                                     absl::Time deadline);

  const std::unique_ptr<HttpTransport> transport_;
  const RetrySettings settings_;
  const std::function<void(absl::Duration)> sleep_;
  const std::function<double()> uniform01_;
};

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_EXECUTOR_H_
