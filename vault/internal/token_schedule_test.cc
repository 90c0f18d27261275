#include "vault/internal/token_schedule.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(TokenScheduleTest, NoTokenNothingScheduled) {
  TokenSchedule s(true);
  EXPECT_TRUE(s.Expired(kT0));
  EXPECT_EQ(s.Next(kT0), TokenAction::kNone);
  EXPECT_EQ(s.NextWake(), absl::InfiniteFuture());
}

TEST(TokenScheduleTest, RenewsAtTwoThirdsAndReloginsAt85Percent) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(300), true);
  EXPECT_FALSE(s.Expired(kT0));
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(199)), TokenAction::kNone);
  EXPECT_EQ(s.NextWake(), kT0 + absl::Seconds(200));
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(200)), TokenAction::kRenew);
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(255)), TokenAction::kLogin);
  EXPECT_TRUE(s.Expired(kT0 + absl::Seconds(300)));
}

TEST(TokenScheduleTest, RenewalMovesTheLease) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(300), true);
  const absl::Time t = kT0 + absl::Seconds(200);
  s.OnRenewed(t, absl::Seconds(300), true);
  EXPECT_EQ(s.expire_at(), t + absl::Seconds(300));
  EXPECT_EQ(s.Next(t + absl::Seconds(100)), TokenAction::kNone);
  EXPECT_EQ(s.Next(t + absl::Seconds(200)), TokenAction::kRenew);
}

TEST(TokenScheduleTest, ShortRenewalMeansMaxTtlReachedSoLogIn) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(300), true);
  const absl::Time t = kT0 + absl::Seconds(200);
  s.OnRenewed(t, absl::Seconds(60), true);
  EXPECT_EQ(s.Next(t), TokenAction::kLogin);
}

TEST(TokenScheduleTest, FailedRenewalBacksOffDoubling) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(1000), true);
  absl::Time t = kT0 + absl::Seconds(667);
  ASSERT_EQ(s.Next(t), TokenAction::kRenew);
  s.OnRenewFailed(t);  // ttl/20 = 50 s, clamped to 10 s.
  EXPECT_EQ(s.Next(t + absl::Seconds(9)), TokenAction::kNone);
  EXPECT_EQ(s.Next(t + absl::Seconds(10)), TokenAction::kRenew);
  t += absl::Seconds(10);
  s.OnRenewFailed(t);  // 20 s.
  EXPECT_EQ(s.Next(t + absl::Seconds(19)), TokenAction::kNone);
  EXPECT_EQ(s.Next(t + absl::Seconds(20)), TokenAction::kRenew);
  // Re-login still happens at 85%.
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(850)), TokenAction::kLogin);
}

TEST(TokenScheduleTest, FixedTokenIsNeverReloggedIn) {
  TokenSchedule s(false);
  s.OnLogin(kT0, absl::Seconds(300), true);
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(290)), TokenAction::kRenew);
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(300)), TokenAction::kNone);
}

TEST(TokenScheduleTest, NonRenewableReloginsOnly) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(100), false);
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(80)), TokenAction::kNone);
  EXPECT_EQ(s.NextWake(), kT0 + absl::Seconds(85));
  EXPECT_EQ(s.Next(kT0 + absl::Seconds(85)), TokenAction::kLogin);
}

TEST(TokenScheduleTest, RootTokenNeverExpires) {
  TokenSchedule s(false);
  s.OnLogin(kT0, absl::ZeroDuration(), false);
  EXPECT_FALSE(s.Expired(kT0 + absl::Hours(1e5)));
  EXPECT_EQ(s.NextWake(), absl::InfiniteFuture());
}

TEST(TokenScheduleTest, FailedLoginBacksOff) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(100), false);
  const absl::Time t = kT0 + absl::Seconds(85);
  s.OnLoginFailed(t);  // 100/20 = 5 s.
  EXPECT_EQ(s.Next(t + absl::Seconds(4)), TokenAction::kNone);
  EXPECT_EQ(s.NextWake(), t + absl::Seconds(5));
  EXPECT_EQ(s.Next(t + absl::Seconds(5)), TokenAction::kLogin);
}

TEST(TokenScheduleTest, InvalidateForgets) {
  TokenSchedule s(true);
  s.OnLogin(kT0, absl::Seconds(100), true);
  s.Invalidate();
  EXPECT_TRUE(s.Expired(kT0));
  EXPECT_FALSE(s.has_token());
}

}  // namespace
}  // namespace internal
}  // namespace vault
}  // namespace vaultca
