// The TokenReview authenticator's parts on their own: PrecheckToken over
// hostile claims, FifoSemaphore's order and timeouts.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/internal/fifo_semaphore.h"
#include "server/auth/internal/token_precheck.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kAudiences = {"istio-ca", "other"};

std::string Jwt(const std::string& payload) {
  return absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"RS256"})"), ".",
                      absl::WebSafeBase64Escape(payload), ".c2ln");
}

absl::Time Now() { return absl::FromUnixSeconds(1800000000); }

TEST(TokenPrecheckTest, AcceptsFutureExpAndMatchingOrMissingAudience) {
  for (const char* payload :
       {R"({"exp":1800000001})", R"({"exp":1800000000.5})",
        R"({"exp":253402300799})", R"({"exp":1800000100,"aud":"istio-ca"})",
        R"({"exp":1800000100,"aud":["x","other"]})",
        R"({"exp":1800000100,"aud":[1,"istio-ca"]})"}) {
    absl::StatusOr<absl::Time> exp = PrecheckToken(Jwt(payload), Now(), kAudiences);
    EXPECT_TRUE(exp.ok()) << payload << ": " << exp.status();
  }
  EXPECT_EQ(*PrecheckToken(Jwt(R"({"exp":1800000100})"), Now(), kAudiences),
            absl::FromUnixSeconds(1800000100));
}

TEST(TokenPrecheckTest, RefusesShapes) {
  const std::string ok_header = absl::WebSafeBase64Escape("{}");
  const std::string ok_payload =
      absl::WebSafeBase64Escape(R"({"exp":1900000000})");
  for (const std::string& token :
       {std::string("x"), std::string("a.b"), ok_header + "." + ok_payload,
        ok_header + "." + ok_payload + ".c2ln.c2ln",
        ok_header + "." + ok_payload + ".",
        "." + ok_payload + ".c2ln",
        ok_header + "." + ok_payload + "=.c2ln",
        ok_header + "." + ok_payload + ".c2l+",
        ok_header + "." + ok_payload + ".c2l/",
        ok_header + ".A.c2ln",  // one base64 character decodes to nothing
        ok_header + "." + ok_payload + ".c2ln\"",
        ok_header + " ." + ok_payload + ".c2ln",
        std::string(kMaxReviewedTokenBytes + 1, 'a')}) {
    absl::StatusOr<absl::Time> exp = PrecheckToken(token, Now(), kAudiences);
    EXPECT_EQ(exp.status().code(), absl::StatusCode::kUnauthenticated) << token;
  }
  EXPECT_THAT(PrecheckToken("a.b", Now(), kAudiences).status().message(),
              HasSubstr("not a JWT"));
}

TEST(TokenPrecheckTest, RefusesPayloadsAndClaims) {
  struct Case {
    const char* payload;
    const char* why;
  } cases[] = {
      {"not json", "not a JSON object"},
      {R"([1,2])", "not a JSON object"},
      {R"("exp")", "not a JSON object"},
      {R"({"exp":1900000000)", "not a JSON object"},
      {R"({})", "no \"exp\""},
      {R"({"exp":"1900000000"})", "not a number"},
      {R"({"exp":true})", "not a number"},
      {R"({"exp":null})", "not a number"},
      {R"({"exp":[1900000000]})", "not a number"},
      {R"({"exp":1799999999})", "expired at 2027"},
      {R"({"exp":1800000000})", "expired"},  // exp is exclusive
      {R"({"exp":0})", "expired"},
      {R"({"exp":-5})", "expired"},
      {R"({"exp":1900000000,"aud":"istio"})", "none of [istio-ca, other]"},
      {R"({"exp":1900000000,"aud":["a","b"]})", "none of"},
      {R"({"exp":1900000000,"aud":[]})", "none of"},
      {R"({"exp":1900000000,"aud":7})", "none of"},
      {R"({"exp":1900000000,"aud":null})", "none of"},
      {R"({"exp":1900000000,"aud":{"istio-ca":1}})", "none of"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<absl::Time> exp =
        PrecheckToken(Jwt(c.payload), Now(), kAudiences);
    EXPECT_EQ(exp.status().code(), absl::StatusCode::kUnauthenticated)
        << c.payload;
    EXPECT_THAT(exp.status().message(), HasSubstr(c.why)) << c.payload;
    EXPECT_THAT(exp.status().message(), HasSubstr("before TokenReview"));
  }
}

// Values a hostile token may carry: none may overflow the time arithmetic
// (UBSan aborts the sanitizer builds if one does).
TEST(TokenPrecheckTest, OutOfRangeExpIsRefusedSafely) {
  for (const char* exp :
       {"1e300", "-1e300", "1e400", "-1e400", "1.7976931348623157e308",
        "-1.7976931348623157e308", "9223372036854775807",
        "-9223372036854775808", "18446744073709551615",
        "99999999999999999999999999", "253402300800", "-253402300800",
        "4.9e-324", "-0.0", "1e-400"}) {
    absl::StatusOr<absl::Time> t = PrecheckToken(
        Jwt(absl::StrCat(R"({"exp":)", exp, "}")), Now(), kAudiences);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated) << exp;
  }
}

TEST(FifoSemaphoreTest, ServesWaitersInArrivalOrder) {
  FifoSemaphore slots(1);
  ASSERT_TRUE(slots.Acquire(absl::ZeroDuration()));
  Mutex mu;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      ASSERT_TRUE(slots.Acquire(absl::Seconds(30)));
      {
        MutexLock lock(&mu);
        order.push_back(i);
      }
      slots.Release();
    });
    // Each waiter is queued before the next one starts.
    while (slots.waiting() < i + 1) absl::SleepFor(absl::Milliseconds(1));
  }
  slots.Release();
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(order, ::testing::ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(slots.in_use(), 0);
  EXPECT_EQ(slots.waiting(), 0);
}

TEST(FifoSemaphoreTest, TimesOutWithoutHoldingAndNewcomersDoNotOvertake) {
  FifoSemaphore slots(2);
  ASSERT_TRUE(slots.Acquire(absl::ZeroDuration()));
  ASSERT_TRUE(slots.Acquire(absl::ZeroDuration()));
  const absl::Time start = absl::Now();
  EXPECT_FALSE(slots.Acquire(absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_EQ(slots.in_use(), 2);
  EXPECT_EQ(slots.waiting(), 0);

  // A waiter is queued; a permit comes free; the waiter, not a newcomer
  // arriving at that moment, gets it.
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = slots.Acquire(absl::Seconds(30)); });
  while (slots.waiting() < 1) absl::SleepFor(absl::Milliseconds(1));
  slots.Release();
  EXPECT_FALSE(slots.Acquire(absl::ZeroDuration()));
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(slots.in_use(), 2);
  slots.Release();
  slots.Release();
  EXPECT_EQ(slots.in_use(), 0);
  EXPECT_TRUE(slots.Acquire(absl::ZeroDuration()));
}

TEST(FifoSemaphoreTest, NeverMoreHoldersThanPermits) {
  FifoSemaphore slots(3);
  std::atomic<int> holders{0}, peak{0}, timeouts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) {
        if (!slots.Acquire(absl::Milliseconds(j % 2 == 0 ? 1 : 200))) {
          ++timeouts;
          continue;
        }
        const int now = ++holders;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        absl::SleepFor(absl::Microseconds(200));
        --holders;
        slots.Release();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(slots.in_use(), 0);
  EXPECT_EQ(slots.waiting(), 0);
}

}  // namespace
}  // namespace internal
}  // namespace server
}  // namespace vaultca
