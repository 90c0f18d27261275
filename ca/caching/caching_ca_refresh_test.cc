// The refresh thread of CachingCertificateAuthority: change events,
// interval, backoff, staleness and expiry, start-up policy.

#include "ca/caching/caching_ca.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/caching/testing/caching_test_util.h"
#include "ca/caching/testing/fake_source.h"
#include "ca/key_cert_bundle.h"
#include "common/sync.h"
#include "testing/fake_clock.h"
#include "testing/signing.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;
using testkit::FakeClock;
using testing::FakeSource;
using testing::FakeSourceState;
using testing::LogCapture;
using testing::ManualOptions;
using testing::MustBundle;
using testing::MustNew;
using testing::Pki;
using testkit::TestSignRequest;
using testkit::VerifyIssued;
using testing::WaitUntil;

TEST(CachingCaTest, ChangeEventTriggersRefreshWithoutWaitingForInterval) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(1));
  CachingCaOptions options;
  options.refresh_interval = absl::Hours(1);
  auto ca = MustNew(state, options);
  ASSERT_TRUE(state->has_callback());
  const CaMaterialPem next = pki.Intermediate(2);
  state->SetAndNotify(next);
  const std::string want = MustBundle(next)->serial_hex();
  EXPECT_TRUE(WaitUntil([&] { return ca->Stats().serial_hex == want; }));
  // Destruction removes the callback before the CA goes away.
  ca.reset();
  EXPECT_FALSE(state->has_callback());
}

TEST(CachingCaTest, IntervalRefreshPicksUpSilentChanges) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(1));
  CachingCaOptions options;
  options.refresh_interval = absl::Milliseconds(20);
  auto ca = MustNew(state, options);
  const CaMaterialPem next = pki.Intermediate(2);
  state->Set(next);
  const std::string want = MustBundle(next)->serial_hex();
  EXPECT_TRUE(WaitUntil([&] { return ca->Stats().serial_hex == want; }));
}

TEST(CachingCaTest, OutageIsRetriedWithBackoffNotInATightLoop) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(1));
  CachingCaOptions options;
  options.refresh_interval = absl::Hours(1);
  options.min_retry_backoff = absl::Milliseconds(10);
  options.max_retry_backoff = absl::Seconds(10);
  auto ca = MustNew(state, options);
  state->SetAndNotify(absl::UnavailableError("connection refused"));
  // Real time: the retry loop's pace is what is measured.
  absl::SleepFor(absl::Milliseconds(700));
  // 10, 20, 40, 80, 160, 320 ms (each jittered to [half, full]): between
  // about 5 and 9 attempts in 700 ms; a tight loop would make thousands.
  const int attempts = state->fetches() - 1;
  EXPECT_GE(attempts, 3);
  EXPECT_LE(attempts, 12);
  // Signing went on throughout.
  EXPECT_TRUE(ca->Sign(TestSignRequest()).ok());
  // Recovery is picked up by the retry loop itself.
  const CaMaterialPem next = pki.Intermediate(2);
  state->Set(next);
  const std::string want = MustBundle(next)->serial_hex();
  EXPECT_TRUE(WaitUntil([&] { return ca->Stats().serial_hex == want; }));
}

TEST(CachingCaTest, StaleMaterialIsReportedButStaysReady) {
  FakeClock clock(absl::Now());
  Pki pki(clock.Now());
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(1));
  CachingCaOptions options = ManualOptions(&clock);
  options.max_staleness = absl::Hours(1);
  auto ca = MustNew(state, options);
  ASSERT_TRUE(ca->IsReady());
  EXPECT_FALSE(ca->Stats().stale);

  // A source outage longer than max_staleness: every replica sees it, so
  // readiness must not drop while the cached material can still sign.
  state->Set(absl::UnavailableError("vault down"));
  clock.Advance(absl::Minutes(61));
  EXPECT_FALSE(ca->Refresh().ok());
  EXPECT_TRUE(ca->IsReady()) << ca->Readiness();
  const CachingCaStats stats = ca->Stats();
  EXPECT_TRUE(stats.ready);
  EXPECT_TRUE(stats.stale);
  auto chain = ca->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(VerifyIssued(*chain, pki.root_pem(), clock.Now()).ok());

  state->Set(pki.Intermediate(1));
  ASSERT_TRUE(ca->Refresh().ok());
  EXPECT_FALSE(ca->Stats().stale);
}

TEST(CachingCaTest, ReadinessFollowsStalenessWhenAskedAndExpiryAlways) {
  FakeClock clock(absl::Now());
  Pki pki(clock.Now());
  auto state = std::make_shared<FakeSourceState>();
  // Short-lived, so expiry is reachable with the fake clock.
  const CaMaterialPem inter = pki.Intermediate(1, absl::Hours(10));
  state->Set(inter);
  CachingCaOptions options = ManualOptions(&clock);
  options.max_staleness = absl::Hours(1);
  options.stale_means_not_ready = true;
  auto ca = MustNew(state, options);
  ASSERT_TRUE(ca->IsReady());

  state->Set(absl::UnavailableError("vault down"));
  clock.Advance(absl::Minutes(59));
  EXPECT_FALSE(ca->Refresh().ok());
  EXPECT_TRUE(ca->IsReady()) << ca->Readiness();

  clock.Advance(absl::Minutes(2));
  EXPECT_FALSE(ca->Refresh().ok());
  absl::Status readiness = ca->Readiness();
  EXPECT_EQ(readiness.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(readiness.message(), HasSubstr("stale"));
  EXPECT_THAT(readiness.message(), HasSubstr("vault down"));
  EXPECT_FALSE(ca->Stats().ready);
  // Stale, but still signing with the last good material.
  auto chain = ca->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(VerifyIssued(*chain, pki.root_pem(), clock.Now()).ok());

  // The source recovers: ready again.
  state->Set(inter);
  ASSERT_TRUE(ca->Refresh().ok());
  EXPECT_TRUE(ca->IsReady()) << ca->Readiness();

  // Never past the signing cert's expiry, however fresh the refresh.
  clock.Advance(absl::Hours(10));
  EXPECT_FALSE(ca->Refresh().ok());  // The same material no longer validates.
  readiness = ca->Readiness();
  EXPECT_EQ(readiness.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(readiness.message(), HasSubstr("expired"));
  auto refused = ca->Sign(TestSignRequest());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("expired"));
}

TEST(CachingCaTest, StartupGivesUpAfterDeadlineWithThePreciseError) {
  auto state = std::make_shared<FakeSourceState>();
  state->Set(absl::PermissionDeniedError("permission denied on secret/data/pki/istiod"));
  CachingCaOptions options;
  options.startup_deadline = absl::Milliseconds(300);
  options.min_retry_backoff = absl::Milliseconds(10);
  options.max_retry_backoff = absl::Milliseconds(40);
  const absl::Time start = absl::Now();
  auto ca = CachingCertificateAuthority::New(std::make_unique<FakeSource>(state),
                                             options);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(ca.status().message(), HasSubstr("fake:test"));
  EXPECT_THAT(ca.status().message(), HasSubstr("start-up deadline"));
  EXPECT_THAT(ca.status().message(), HasSubstr("permission denied on secret"));
  EXPECT_GT(state->fetches(), 2);
  EXPECT_FALSE(state->has_callback());
}

TEST(CachingCaTest, StartupKeepsTryingWhenAskedAndBecomesReady) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  state->Set(absl::UnavailableError("vault sealed"));
  CachingCaOptions options;
  options.startup_deadline = absl::Milliseconds(50);
  options.startup_policy = StartupPolicy::kKeepTrying;
  options.min_retry_backoff = absl::Milliseconds(10);
  options.max_retry_backoff = absl::Milliseconds(20);
  auto ca = MustNew(state, options);
  ASSERT_NE(ca, nullptr);
  absl::Status readiness = ca->Readiness();
  EXPECT_EQ(readiness.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(readiness.message(), HasSubstr("vault sealed"));
  auto refused = ca->Sign(TestSignRequest());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ca->RootBundlePem().status().code(), absl::StatusCode::kUnavailable);

  state->Set(pki.Intermediate(1));
  EXPECT_TRUE(WaitUntil([&] { return ca->IsReady(); }));
  EXPECT_TRUE(ca->Sign(TestSignRequest()).ok());
}

TEST(CachingCaTest, RepeatedIdenticalFailureIsLoggedOncePerMinute) {
  FakeClock clock(absl::Now());
  Pki pki(clock.Now());
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(1));
  auto ca = MustNew(state, ManualOptions(&clock));
  LogCapture logs;
  state->Set(absl::UnavailableError("vault down"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(ca->Refresh().ok());
  EXPECT_EQ(logs.Count(), 1);
  // A different error is news.
  state->Set(absl::PermissionDeniedError("token revoked"));
  EXPECT_FALSE(ca->Refresh().ok());
  EXPECT_EQ(logs.Count(), 2);
  EXPECT_FALSE(ca->Refresh().ok());
  EXPECT_EQ(logs.Count(), 2);
  // A minute later the same error is said again, with what was skipped.
  clock.Advance(absl::Seconds(61));
  EXPECT_FALSE(ca->Refresh().ok());
  EXPECT_EQ(logs.Count(), 3);
  EXPECT_THAT(logs.Joined(), HasSubstr("[1 identical failures not logged]"));
  EXPECT_EQ(ca->Stats().failures.fetch, 6);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
