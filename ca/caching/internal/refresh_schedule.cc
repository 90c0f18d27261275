#include "ca/caching/internal/refresh_schedule.h"

#include <algorithm>

namespace vaultca {
namespace ca {
namespace internal {

absl::Duration JitteredInterval(absl::Duration interval, double jitter,
                                double uniform01) {
  return interval * (1.0 - jitter + 2.0 * jitter * uniform01);
}

absl::Duration RetryBackoff(absl::Duration min_backoff,
                            absl::Duration max_backoff, absl::Duration interval,
                            int consecutive_failures, double uniform01) {
  const absl::Duration cap = std::min(max_backoff, interval);
  absl::Duration backoff = min_backoff;
  for (int i = 1; i < consecutive_failures && backoff < cap; ++i) backoff *= 2;
  backoff = std::min(backoff, cap);
  return backoff * (0.5 + 0.5 * uniform01);
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
