#include "vault/internal/retry.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

TEST(RetryTest, RetryableStatuses) {
  for (int s : {412, 429, 500, 502, 503, 504, 599}) {
    EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  }
  for (int s : {200, 204, 307, 400, 401, 403, 404, 405, 501}) {
    EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
  }
}

TEST(RetryTest, RetryableTransportErrors) {
  EXPECT_TRUE(IsRetryableTransportError(absl::UnavailableError("reset")));
  EXPECT_FALSE(IsRetryableTransportError(absl::FailedPreconditionError("tls")));
  EXPECT_FALSE(IsRetryableTransportError(absl::DeadlineExceededError("late")));
}

TEST(RetryTest, ParseRetryAfter) {
  const absl::Time now = absl::FromUnixSeconds(1445412480);  // 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("3", now), absl::Seconds(3));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now),
            absl::Seconds(5));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now),
            absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-1", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
}

TEST(RetryTest, FullJitterBackoffGrowsAndCaps) {
  const absl::Duration base = absl::Milliseconds(100);
  const absl::Duration max = absl::Seconds(1);
  EXPECT_EQ(JitteredBackoff(0, base, max, 0.0), absl::ZeroDuration());
  EXPECT_EQ(JitteredBackoff(0, base, max, 0.5), absl::Milliseconds(50));
  EXPECT_EQ(JitteredBackoff(1, base, max, 0.5), absl::Milliseconds(100));
  EXPECT_EQ(JitteredBackoff(2, base, max, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(JitteredBackoff(10, base, max, 0.5), absl::Milliseconds(500));
  EXPECT_EQ(JitteredBackoff(1000, base, max, 1.0), max);
  EXPECT_EQ(JitteredBackoff(3, base, max, 7.0), absl::Milliseconds(800));
}

}  // namespace
}  // namespace internal
}  // namespace vault
}  // namespace vaultca
