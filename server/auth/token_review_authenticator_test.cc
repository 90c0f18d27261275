#include "server/auth/token_review_authenticator.h"

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ca/sources/testing/fake_clock.h"
#include "ca/sources/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/testing/fake_kube_api.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A JWT-shaped token whose only meaningful claim is "exp" (the API server,
// not vaultca, verifies it).
std::string TokenExpiring(absl::Time exp, const std::string& tag) {
  return absl::StrCat(
      absl::WebSafeBase64Escape(R"({"alg":"RS256"})"), ".",
      absl::WebSafeBase64Escape(absl::StrCat(
          R"({"exp":)", absl::ToUnixSeconds(exp), R"(,"tag":")", tag, R"("})")),
      ".c2ln");
}

class TokenReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ca::testing::MakeTempDir("token-review");
    kube_ = std::make_unique<testing::FakeKubeApi>(dir_);
    KubeApiOptions api;
    api.api_server = kube_->address();
    api.ca_file = kube_->ca_file();
    api.token_file = kube_->token_file();
    auto client = KubeApiClient::New(api);
    ASSERT_TRUE(client.ok()) << client.status();
    api_ = *std::move(client);
  }

  std::unique_ptr<TokenReviewAuthenticator> Make(TokenReviewOptions options =
                                                     {}) {
    options.clock = clock_.AsFunction();
    return std::make_unique<TokenReviewAuthenticator>(api_, options);
  }

  absl::StatusOr<Caller> Try(TokenReviewAuthenticator& auth,
                             const std::string& token) {
    AuthRequest request;
    request.bearer_token = SecretData(token);
    return auth.Authenticate(request);
  }

  ca::testing::FakeClock clock_{absl::Now()};
  std::string dir_;
  std::unique_ptr<testing::FakeKubeApi> kube_;
  std::shared_ptr<const KubeApiClient> api_;
};

TEST_F(TokenReviewTest, AcceptsServiceAccountWithPod) {
  const std::string token = TokenExpiring(clock_.Now() + absl::Hours(1), "a");
  kube_->AddToken(token, "default", "sleep", "sleep-1", "uid-1");
  auto auth = Make();
  auto caller = Try(*auth, token);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://cluster.local/ns/default/sa/sleep"));
  EXPECT_EQ(caller->authenticator, "token-review");
  EXPECT_EQ(caller->pod_name, "sleep-1");
  EXPECT_EQ(caller->pod_uid, "uid-1");
  EXPECT_THAT(kube_->last_audiences(), ElementsAre("istio-ca"));
}

TEST_F(TokenReviewTest, RejectsUnknownAndMalformedTokens) {
  auto auth = Make();
  auto caller = Try(*auth, TokenExpiring(clock_.Now(), "unknown"));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not authenticated"));
  caller = Try(*auth, "not a \"jwt\"");
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Try(*auth, "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(kube_->token_reviews(), 1);
}

TEST_F(TokenReviewTest, CachesPositiveResultsUntilTokenExpiry) {
  const std::string token = TokenExpiring(clock_.Now() + absl::Minutes(2), "b");
  kube_->AddToken(token, "default", "sleep");
  TokenReviewOptions options;
  options.cache_ttl = absl::Minutes(5);
  auto auth = Make(options);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Try(*auth, token).ok());
  EXPECT_EQ(kube_->token_reviews(), 1);
  EXPECT_EQ(auth->reviews(), 1);
  // The token's exp (2 min) bounds the cache before cache_ttl (5 min).
  clock_.Advance(absl::Minutes(3));
  EXPECT_TRUE(Try(*auth, token).ok());
  EXPECT_EQ(kube_->token_reviews(), 2);
  // Negative answers are not cached.
  const std::string bad = TokenExpiring(clock_.Now() + absl::Hours(1), "bad");
  EXPECT_FALSE(Try(*auth, bad).ok());
  EXPECT_FALSE(Try(*auth, bad).ok());
  EXPECT_EQ(kube_->token_reviews(), 4);
}

TEST_F(TokenReviewTest, CacheIsBounded) {
  TokenReviewOptions options;
  options.cache_max_entries = 2;
  auto auth = Make(options);
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    tokens.push_back(
        TokenExpiring(clock_.Now() + absl::Hours(1), absl::StrCat("t", i)));
    kube_->AddToken(tokens.back(), "default", absl::StrCat("sa", i));
    ASSERT_TRUE(Try(*auth, tokens.back()).ok());
  }
  // The third did not fit: asking again reviews again.
  ASSERT_TRUE(Try(*auth, tokens[2]).ok());
  EXPECT_EQ(kube_->token_reviews(), 4);
  ASSERT_TRUE(Try(*auth, tokens[0]).ok());
  EXPECT_EQ(kube_->token_reviews(), 4);
}

TEST_F(TokenReviewTest, ApiOutageIsUnavailableAndCacheStillServes) {
  const std::string token = TokenExpiring(clock_.Now() + absl::Hours(1), "c");
  kube_->AddToken(token, "default", "sleep");
  auto auth = Make();
  ASSERT_TRUE(Try(*auth, token).ok());
  kube_->SetDown(true);
  EXPECT_TRUE(Try(*auth, token).ok());
  auto other = Try(*auth, TokenExpiring(clock_.Now() + absl::Hours(1), "d"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TokenReviewTest, ClientRefusesPlainHttpAndUnreadableCa) {
  KubeApiOptions api;
  api.api_server = "http://127.0.0.1:1";
  api.ca_file = kube_->ca_file();
  EXPECT_EQ(KubeApiClient::New(api).status().code(),
            absl::StatusCode::kInvalidArgument);
  api.api_server = kube_->address();
  api.ca_file = dir_ + "/missing.crt";
  EXPECT_EQ(KubeApiClient::New(api).status().code(),
            absl::StatusCode::kFailedPrecondition);
  api.api_server = "";
  api.ca_file = kube_->ca_file();
  api.env = [](absl::string_view name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "fd00::1";
    if (name == "KUBERNETES_SERVICE_PORT") return "6443";
    return std::nullopt;
  };
  auto client = KubeApiClient::New(api);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->address(), "https://[fd00::1]:6443");
}

}  // namespace
}  // namespace server
}  // namespace vaultca
