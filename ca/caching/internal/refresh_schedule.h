#ifndef VAULTCA_CA_CACHING_INTERNAL_REFRESH_SCHEDULE_H_
#define VAULTCA_CA_CACHING_INTERNAL_REFRESH_SCHEDULE_H_

#include "absl/time/time.h"

namespace vaultca {
namespace ca {
namespace internal {

// Returns `interval` scaled by `uniform01` mapped onto [1 - jitter,
// 1 + jitter]. `uniform01` is a uniformly random number in [0, 1).
absl::Duration JitteredInterval(absl::Duration interval, double jitter,
                                double uniform01);

// Returns the wait before retry number `consecutive_failures` (>= 1):
// min_backoff doubled per earlier failure, capped at min(max_backoff,
// interval), then scaled by `uniform01` onto [half, full] so replicas that
// failed together do not retry together.
absl::Duration RetryBackoff(absl::Duration min_backoff,
                            absl::Duration max_backoff, absl::Duration interval,
                            int consecutive_failures, double uniform01);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_INTERNAL_REFRESH_SCHEDULE_H_
