#include "vault/internal/retry.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace vaultca {
namespace vault {
namespace internal {

bool IsRetryableHttpStatus(int status) {
  if (status == 412 || status == 429) return true;
  return status >= 500 && status <= 599 && status != 501;
}

bool IsRetryableTransportError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable;
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value,
                                              absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(std::min<int64_t>(seconds, 24 * 3600));
  }
  absl::Time when;
  std::string err;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value),
                       absl::UTCTimeZone(), &when, &err)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), when - now);
}

absl::Duration JitteredBackoff(int attempt, absl::Duration base,
                               absl::Duration max, double uniform01) {
  absl::Duration ceiling = base;
  for (int i = 0; i < attempt && ceiling < max; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max);
  uniform01 = std::clamp(uniform01, 0.0, 1.0);
  return ceiling * uniform01;
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
