#ifndef VAULTCA_COMMON_INTERNAL_SSL_ERROR_H_
#define VAULTCA_COMMON_INTERNAL_SSL_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace internal {

// Returns a status with `code` whose message is `what` followed by every
// entry of this thread's OpenSSL error queue, and empties the queue so a
// stale error cannot be blamed on a later call.
absl::Status SslError(absl::StatusCode code, absl::string_view what);

// Empties this thread's OpenSSL error queue.
void ClearSslErrors();

}  // namespace internal
}  // namespace vaultca

#endif  // VAULTCA_COMMON_INTERNAL_SSL_ERROR_H_
