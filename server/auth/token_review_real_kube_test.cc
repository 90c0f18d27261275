// TokenReviewAuthenticator against a real kube-apiserver (RealKube, see
// tools/kube/): real service-account tokens, real TokenReview answers, and
// the API server's own request counter as the measure of what vaultca costs
// it. Run with --test_env=VAULTCA_KUBE_BIN_DIR; VAULTCA_ALLOW_NO_KUBE=1
// skips instead of failing when the control plane cannot start.

#include <atomic>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/auth/token_review_authenticator.h"
#include "server/kube/testing/real_kube.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RealKube;
using Json = nlohmann::json;

constexpr char kAudience[] = "istio-ca";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<Caller> Try(TokenReviewAuthenticator& auth,
                           const std::string& token) {
  AuthRequest request;
  request.bearer_token = SecretData(token);
  return auth.Authenticate(request);
}

// `token` with its claims replaced by `claims`; header and signature kept,
// so the result looks like a service-account token but does not verify.
std::string Forge(const std::string& token, const Json& claims) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return "";
  return absl::StrCat(parts[0], ".", absl::WebSafeBase64Escape(claims.dump()),
                      ".", parts[2]);
}

Json Claims(const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return Json();
  }
  return Json::parse(payload, nullptr, false);
}

class TokenReviewRealKubeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    start_ = testing::StartSuiteKube(&kube_);
    if (start_.ok()) start_ = Prepare();
  }
  static void TearDownTestSuite() {
    api_.reset();
    delete kube_;
    kube_ = nullptr;
  }
  void SetUp() override {
    if (!start_.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << start_;
    ASSERT_TRUE(start_.ok()) << start_;
  }

  // vaultca-server's own identity, as istiod's: a service account allowed
  // to create TokenReviews (system:auth-delegator), its token projected
  // into a file as kubelet would.
  static absl::Status Prepare() {
    for (const char* ns : {"istio-system", "apps"}) {
      if (absl::Status s = kube_->CreateNamespace(ns); !s.ok()) return s;
    }
    if (absl::Status s = kube_->CreateServiceAccount("istio-system", "istiod");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = kube_->BindClusterRole(
            "istiod-tokenreview", "system:auth-delegator", "istio-system",
            "istiod");
        !s.ok()) {
      return s;
    }
    RealKube::TokenOptions own;
    own.ttl = absl::Hours(1);
    absl::StatusOr<std::string> token =
        kube_->RequestToken("istio-system", "istiod", own);
    if (!token.ok()) return token.status();
    absl::StatusOr<std::string> file =
        testing::ProjectToken(kube_->dir() + "/istiod-token", *token);
    if (!file.ok()) return file.status();
    KubeApiOptions api;
    api.api_server = kube_->address();
    api.ca_file = kube_->ca_file();
    api.token_file = *file;
    absl::StatusOr<std::unique_ptr<KubeApiClient>> client =
        KubeApiClient::New(api);
    if (!client.ok()) return client.status();
    api_ = *std::move(client);
    return absl::OkStatus();
  }

  static std::unique_ptr<TokenReviewAuthenticator> Make(
      TokenReviewOptions options = {}) {
    options.audiences = {kAudience};
    return std::make_unique<TokenReviewAuthenticator>(api_, options);
  }

  struct Pod {
    std::string name;
    std::string uid;
    std::string token;
  };
  // Creates pod ns/name running as ns/sa (and the account when asked) and
  // returns it with a token bound to it, as kubelet projects one.
  static absl::StatusOr<Pod> PodWithToken(
      const std::string& ns, const std::string& sa, const std::string& name,
      std::vector<std::string> audiences = {kAudience}) {
    absl::StatusOr<std::string> uid = kube_->CreatePod(ns, name, sa, "node-a");
    if (!uid.ok()) return uid.status();
    RealKube::TokenOptions options;
    options.audiences = std::move(audiences);
    options.ttl = absl::Seconds(3607);  // kubelet's default
    options.pod_name = name;
    options.pod_uid = *uid;
    absl::StatusOr<std::string> token = kube_->RequestToken(ns, sa, options);
    if (!token.ok()) return token.status();
    return Pod{name, *uid, *token};
  }

  // TokenReviews the API server has answered, by its own metrics.
  static double TokenReviews() {
    absl::StatusOr<double> n = kube_->Requests("tokenreviews", "POST");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
  // TokenReviews since `before`, once the count has reached `at_least`
  // (the counter is bumped as a request ends, a moment after the answer).
  static int ReviewsSince(double before, int64_t at_least) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    double delta = TokenReviews() - before;
    while (delta < at_least && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
      delta = TokenReviews() - before;
    }
    return static_cast<int>(delta);
  }

  static absl::Status start_;
  static RealKube* kube_;
  static std::shared_ptr<const KubeApiClient> api_;
};

absl::Status TokenReviewRealKubeTest::start_;
RealKube* TokenReviewRealKubeTest::kube_ = nullptr;
std::shared_ptr<const KubeApiClient> TokenReviewRealKubeTest::api_;

TEST_F(TokenReviewRealKubeTest, AcceptsPodBoundToken) {
  ASSERT_TRUE(kube_->CreateServiceAccount("apps", "sleep").ok());
  absl::StatusOr<Pod> pod = PodWithToken("apps", "sleep", "sleep-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  auto auth = Make();
  const double before = TokenReviews();
  absl::StatusOr<Caller> caller = Try(*auth, pod->token);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://cluster.local/ns/apps/sa/sleep"));
  EXPECT_EQ(caller->kube_namespace, "apps");
  EXPECT_EQ(caller->service_account, "sleep");
  EXPECT_EQ(caller->pod_name, "sleep-1");
  EXPECT_EQ(caller->pod_uid, pod->uid);
  EXPECT_TRUE(Try(*auth, pod->token).ok());
  EXPECT_EQ(auth->reviews(), 1);
  EXPECT_EQ(ReviewsSince(before, 1), 1);
}

// Real tokens always carry "aud", so a token for another audience is
// refused before it costs the API server anything.
TEST_F(TokenReviewRealKubeTest, RefusesWrongAudienceWithoutReview) {
  ASSERT_TRUE(kube_->CreateServiceAccount("apps", "aud").ok());
  absl::StatusOr<Pod> vault = PodWithToken("apps", "aud", "aud-1", {"vault"});
  ASSERT_TRUE(vault.ok()) << vault.status();
  // No audience requested: the API server's own (its issuer).
  absl::StatusOr<Pod> api = PodWithToken("apps", "aud", "aud-2", {});
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_EQ(Claims(api->token)["aud"], Json::array({kube_->issuer()}));
  auto auth = Make();
  const double before = TokenReviews();
  for (const std::string& token : {vault->token, api->token}) {
    absl::StatusOr<Caller> caller = Try(*auth, token);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(caller.status().message(), HasSubstr("none of [istio-ca]"));
  }
  EXPECT_EQ(auth->reviews(), 0);
  EXPECT_EQ(auth->stats().locally_refused, 2);
  EXPECT_EQ(ReviewsSince(before, 0), 0);
}

TEST_F(TokenReviewRealKubeTest, RefusesExpiredTokenWithoutReview) {
  ASSERT_TRUE(kube_->CreateServiceAccount("apps", "late").ok());
  absl::StatusOr<Pod> pod = PodWithToken("apps", "late", "late-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  // The API server will not issue an expired token: this one has the real
  // token's claims but an "exp" a minute ago.
  Json claims = Claims(pod->token);
  claims["exp"] = absl::ToUnixSeconds(absl::Now() - absl::Minutes(1));
  const std::string expired = Forge(pod->token, claims);
  auto auth = Make();
  // And the real token itself, seen by a clock past its expiry.
  TokenReviewOptions later;
  later.clock = [] { return absl::Now() + absl::Hours(2); };
  auto later_auth = Make(later);
  const double before = TokenReviews();
  absl::StatusOr<Caller> caller = Try(*auth, expired);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("expired at"));
  caller = Try(*later_auth, pod->token);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("expired at"));
  EXPECT_EQ(auth->reviews() + later_auth->reviews(), 0);
  EXPECT_EQ(ReviewsSince(before, 0), 0);
}

TEST_F(TokenReviewRealKubeTest, RefusesTokenOfDeletedPod) {
  ASSERT_TRUE(kube_->CreateServiceAccount("apps", "gone-pod").ok());
  absl::StatusOr<Pod> pod = PodWithToken("apps", "gone-pod", "gone-pod-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  TokenReviewOptions long_cache;
  long_cache.cache_ttl = absl::Minutes(5);
  auto cached = Make(long_cache);
  ASSERT_TRUE(Try(*cached, pod->token).ok());

  ASSERT_TRUE(kube_->DeletePod("apps", "gone-pod-1").ok());
  ASSERT_TRUE(kube_->WaitAuthenticated(pod->token, {kAudience}, false,
                                       absl::Seconds(60))
                  .ok());
  // An authenticator that has not seen the token asks and is told no.
  auto fresh = Make();
  absl::StatusOr<Caller> caller = Try(*fresh, pod->token);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not authenticated"));
  EXPECT_EQ(fresh->reviews(), 1);
  // One that accepted it before keeps its answer until its cache_ttl: the
  // price of one review per pod instead of one per request. Hence the
  // default of 10 s, the API server's own review cache, so vaultca never
  // accepts a dead pod's token longer than the API server itself does.
  EXPECT_TRUE(Try(*cached, pod->token).ok());
}

TEST_F(TokenReviewRealKubeTest, RefusesTokenOfDeletedServiceAccount) {
  ASSERT_TRUE(kube_->CreateServiceAccount("apps", "gone-sa").ok());
  absl::StatusOr<Pod> pod = PodWithToken("apps", "gone-sa", "gone-sa-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  ASSERT_TRUE(kube_->DeleteServiceAccount("apps", "gone-sa").ok());
  ASSERT_TRUE(kube_->WaitAuthenticated(pod->token, {kAudience}, false,
                                       absl::Seconds(60))
                  .ok());
  auto auth = Make();
  absl::StatusOr<Caller> caller = Try(*auth, pod->token);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not authenticated"));
  EXPECT_EQ(auth->reviews(), 1);
}

// The admin's static token authenticates to the API server, but it is no
// service-account token (not even a JWT), so vaultca refuses it without
// asking. The answer the API server would give for istio-ca is no as well.
TEST_F(TokenReviewRealKubeTest, RefusesTheAdminsStaticToken) {
  std::string admin = ReadFile(kube_->admin_token_file());
  while (!admin.empty() && (admin.back() == '\n' || admin.back() == '\r')) {
    admin.pop_back();
  }
  ASSERT_FALSE(admin.empty());
  auto auth = Make();
  const double before = TokenReviews();
  absl::StatusOr<Caller> caller = Try(*auth, admin);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not a JWT"));
  EXPECT_EQ(auth->reviews(), 0);
  EXPECT_EQ(ReviewsSince(before, 0), 0);
  absl::StatusOr<bool> api_says = kube_->Authenticated(admin, {kAudience});
  ASSERT_TRUE(api_says.ok()) << api_says.status();
  EXPECT_FALSE(*api_says);
}

// What floods cost the API server, counted by the API server itself:
// 10,000 garbage requests, then 10,000 valid requests from 100 pods, each
// sent by 16 threads at once through one authenticator with the defaults.
TEST_F(TokenReviewRealKubeTest, MeasuresTokenReviewsPerFlood) {
  constexpr int kRequests = 10000;
  constexpr int kPods = 100;
  constexpr int kThreads = 16;
  ASSERT_TRUE(kube_->CreateNamespace("load").ok());
  ASSERT_TRUE(kube_->CreateServiceAccount("load", "app").ok());
  std::vector<Pod> pods;
  for (int i = 0; i < kPods; ++i) {
    absl::StatusOr<Pod> pod =
        PodWithToken("load", "app", absl::StrCat("app-", i));
    ASSERT_TRUE(pod.ok()) << pod.status();
    pods.push_back(*std::move(pod));
  }
  absl::StatusOr<Pod> vault_pod =
      PodWithToken("load", "app", "vault-client", {"vault"});
  ASSERT_TRUE(vault_pod.ok()) << vault_pod.status();

  // Garbage of every kind a broken or hostile client sends: not a JWT, a
  // payload that is not JSON, expired, no "exp", another audience (a real
  // token, and a forged one), and one forged token that looks valid in
  // every way but its signature, sent over and over.
  Json claims = Claims(pods[0].token);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  Json expired = claims, no_exp = claims, other_aud = claims;
  expired["exp"] = now - 60;
  no_exp.erase("exp");
  other_aud["aud"] = {"vault"};
  Json forged = claims;
  forged["sub"] = "system:serviceaccount:istio-system:istiod";
  const std::vector<std::string> garbage = {
      "",  // placeholder: a fresh random string per request
      absl::StrCat(absl::WebSafeBase64Escape("{}"), ".bm90IGpzb24.c2ln"),
      Forge(pods[0].token, expired),
      Forge(pods[0].token, no_exp),
      Forge(pods[0].token, other_aud),
      vault_pod->token,
      Forge(pods[0].token, forged),
  };

  auto run = [&](auto request_token) {
    std::vector<std::thread> threads;
    std::atomic<int> next{0}, ok{0}, unavailable{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = next++; i < kRequests; i = next++) {
          absl::StatusOr<Caller> caller = request_token(i);
          if (caller.ok()) ++ok;
          if (caller.status().code() == absl::StatusCode::kUnavailable) {
            ++unavailable;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    return std::make_pair(ok.load(), unavailable.load());
  };

  auto auth = Make();
  double before = TokenReviews();
  absl::Time start = absl::Now();
  auto [garbage_ok, garbage_unavailable] = run([&](int i) {
    const size_t kind = static_cast<size_t>(i) % garbage.size();
    return Try(*auth, kind == 0 ? absl::StrCat("garbage-", i, "-x")
                                : garbage[kind]);
  });
  const absl::Duration garbage_time = absl::Now() - start;
  const TokenReviewStats garbage_stats = auth->stats();
  const int garbage_reviews = ReviewsSince(before, garbage_stats.reviews);
  std::cout << "MEASURED: " << kRequests << " garbage requests ("
            << kThreads << " threads, " << absl::FormatDuration(garbage_time)
            << ") -> " << garbage_reviews
            << " TokenReviews on the API server (vaultca: "
            << garbage_stats.reviews << " sent, "
            << garbage_stats.locally_refused << " refused locally, "
            << garbage_stats.negative_cache_hits
            << " refused from the negative cache, " << garbage_stats.coalesced
            << " joined a review in flight)\n";
  EXPECT_EQ(garbage_ok, 0);
  EXPECT_EQ(garbage_unavailable, 0);
  EXPECT_EQ(garbage_reviews, garbage_stats.reviews);
  // Only the forged token can reach the API server, once per
  // negative-cache TTL (5 s).
  EXPECT_GE(garbage_reviews, 1);
  EXPECT_LE(garbage_reviews,
            1 + static_cast<int>(garbage_time / absl::Seconds(5)) + 1);

  before = TokenReviews();
  start = absl::Now();
  auto [valid_ok, valid_unavailable] = run([&](int i) {
    return Try(*auth, pods[static_cast<size_t>(i) % kPods].token);
  });
  const absl::Duration valid_time = absl::Now() - start;
  const TokenReviewStats valid_stats = auth->stats();
  const int64_t valid_sent = valid_stats.reviews - garbage_stats.reviews;
  const int valid_reviews = ReviewsSince(before, valid_sent);
  std::cout << "MEASURED: " << kRequests << " valid requests from " << kPods
            << " pods (" << kThreads << " threads, "
            << absl::FormatDuration(valid_time) << ") -> " << valid_reviews
            << " TokenReviews on the API server (vaultca: " << valid_sent
            << " sent, "
            << valid_stats.cache_hits - garbage_stats.cache_hits
            << " cache hits, " << valid_stats.coalesced - garbage_stats.coalesced
            << " joined a review in flight)\n";
  EXPECT_EQ(valid_ok, kRequests);
  EXPECT_EQ(valid_unavailable, 0);
  // One review per pod per cache_ttl, however many requests each sends.
  const int windows =
      1 + static_cast<int>(valid_time / TokenReviewOptions().cache_ttl);
  EXPECT_GE(valid_reviews, kPods);
  EXPECT_LE(valid_reviews, kPods * windows);
  EXPECT_EQ(valid_sent, valid_reviews);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
