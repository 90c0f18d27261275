#ifndef VAULTCA_SERVER_AUTH_INTERNAL_TOKEN_PRECHECK_H_
#define VAULTCA_SERVER_AUTH_INTERNAL_TOKEN_PRECHECK_H_

// What can be told of a bearer token without its issuer's key, so tokens
// that cannot pass a TokenReview never reach the API server.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace server {
namespace internal {

// Tokens above this size are refused before any decoding (Kubernetes
// service-account tokens are about 1 KiB).
inline constexpr size_t kMaxReviewedTokenBytes = 16 * 1024;

// Checks `token`'s shape and unverified claims: three non-empty unpadded
// base64url parts, the first two decoding, a JSON object payload with a
// numeric "exp" after `now` (and before year 10000), and, when it has an
// "aud" claim (a string or an array), one of `audiences` in it. A token
// without "aud" passes: the API server decides for it. Returns the token's
// expiry; Unauthenticated with a message that never repeats the token or
// its claims otherwise.
absl::StatusOr<absl::Time> PrecheckToken(
    absl::string_view token, absl::Time now,
    const std::vector<std::string>& audiences);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_INTERNAL_TOKEN_PRECHECK_H_
