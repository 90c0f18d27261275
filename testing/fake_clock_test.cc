#include "testing/fake_clock.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace testkit {
namespace {

TEST(FakeClockTest, CopiesAndFunctionsFollowAdvance) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FakeClock clock(start);
  FakeClock copy = clock;
  std::function<absl::Time()> now = clock.AsFunction();
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(clock.Now(), start + absl::Minutes(5));
  EXPECT_EQ(copy.Now(), start + absl::Minutes(5));
  EXPECT_EQ(now(), start + absl::Minutes(5));
}

}  // namespace
}  // namespace testkit
}  // namespace vaultca
