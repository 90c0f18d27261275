#include "ca/caching/internal/refresh_schedule.h"

#include "gtest/gtest.h"
#include "absl/time/time.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

TEST(RefreshScheduleTest, JitterSpansTheConfiguredFraction) {
  const absl::Duration minute = absl::Minutes(1);
  EXPECT_EQ(JitteredInterval(minute, 0.1, 0.0), absl::Seconds(54));
  EXPECT_EQ(JitteredInterval(minute, 0.1, 0.5), minute);
  EXPECT_GT(JitteredInterval(minute, 0.1, 0.999), absl::Seconds(65));
  EXPECT_EQ(JitteredInterval(minute, 0.0, 0.9), minute);
}

TEST(RefreshScheduleTest, BackoffDoublesUpToTheCap) {
  const absl::Duration min = absl::Seconds(1), max = absl::Seconds(30);
  const absl::Duration interval = absl::Minutes(5);
  // uniform01 -> 1 gives the full (unjittered) value.
  const double full = 0.999999999;
  EXPECT_NEAR(absl::ToDoubleSeconds(RetryBackoff(min, max, interval, 1, full)), 1, 1e-6);
  EXPECT_NEAR(absl::ToDoubleSeconds(RetryBackoff(min, max, interval, 2, full)), 2, 1e-6);
  EXPECT_NEAR(absl::ToDoubleSeconds(RetryBackoff(min, max, interval, 5, full)), 16, 1e-6);
  EXPECT_NEAR(absl::ToDoubleSeconds(RetryBackoff(min, max, interval, 6, full)), 30, 1e-6);
  EXPECT_NEAR(absl::ToDoubleSeconds(RetryBackoff(min, max, interval, 1000, full)), 30, 1e-6);
  // Jitter halves at most.
  EXPECT_EQ(RetryBackoff(min, max, interval, 3, 0.0), absl::Seconds(2));
}

TEST(RefreshScheduleTest, BackoffNeverExceedsTheRefreshInterval) {
  EXPECT_LE(RetryBackoff(absl::Seconds(1), absl::Minutes(5), absl::Seconds(10),
                         20, 0.999),
            absl::Seconds(10));
}

}  // namespace
}  // namespace internal
}  // namespace ca
}  // namespace vaultca
