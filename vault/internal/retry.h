#ifndef VAULTCA_VAULT_INTERNAL_RETRY_H_
#define VAULTCA_VAULT_INTERNAL_RETRY_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace vault {
namespace internal {

// Returns true for the HTTP statuses the official Go client retries:
// 412 (eventual consistency), 429 (rate limit) and every 5xx except 501
// (not initialised, which no retry fixes).
bool IsRetryableHttpStatus(int status);

// Returns true for transport failures worth another attempt: Unavailable
// (refused, reset, truncated, connect timeout). TLS verification and other
// configuration errors are FailedPrecondition and never retried.
bool IsRetryableTransportError(const absl::Status& status);

// Parses a Retry-After value: delta-seconds ("3") or an IMF-fixdate
// ("Wed, 21 Oct 2015 07:28:00 GMT") relative to `now`. Returns nullopt for
// anything else; past dates give zero.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value,
                                              absl::Time now);

// Exponential backoff with full jitter: a wait in
// [0, min(max, base * 2^attempt)], picked by `uniform01` in [0, 1).
// `attempt` counts retries from 0.
absl::Duration JitteredBackoff(int attempt, absl::Duration base,
                               absl::Duration max, double uniform01);

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_RETRY_H_
