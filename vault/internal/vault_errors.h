#ifndef VAULTCA_VAULT_INTERNAL_VAULT_ERRORS_H_
#define VAULTCA_VAULT_INTERNAL_VAULT_ERRORS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace vault {
namespace internal {

// Returns the strings of the top-level "errors" array of a Vault error
// body; empty when the body is not JSON or has none.
std::vector<std::string> VaultErrorMessages(absl::string_view body);

// Returns the status code for an HTTP status from Vault: 400 InvalidArgument,
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 405 Unimplemented,
// 412 FailedPrecondition, 429 ResourceExhausted, 500 Internal,
// 501 FailedPrecondition (not initialised), 502/503/504 Unavailable, other
// 4xx InvalidArgument, other 5xx Unavailable, anything else Unknown.
absl::StatusCode HttpStatusToCode(int http_status);

// Returns a status for an error response: the mapped code and a message
// naming the operation ("GET secret/data/x"), the HTTP status, Vault's
// `errors` and what to do about it. The body is otherwise not echoed.
absl::Status HttpErrorToStatus(int http_status, absl::string_view operation,
                               absl::string_view body);

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_VAULT_ERRORS_H_
