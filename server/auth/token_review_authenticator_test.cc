// TokenReviewAuthenticator against API servers on the wire. Two stand-ins:
//  - FakeKubeApi (server/kube/testing): a fake TokenReview endpoint. It is
//    used here ONLY for faults (an outage) and for counting the reviews that
//    reach it; what a real API server answers is covered by
//    token_review_real_kube_test against kube-apiserver itself.
//  - ScriptedKubeApi (below): a loopback TLS server whose answers and
//    latency each test scripts, for malformed answers and for concurrency
//    (FakeKubeApi cannot delay).

#include "server/auth/token_review_authenticator.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/kube/testing/fake_kube_api.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// A JWT-shaped token with the given claims; the signature is a placeholder
// (the API server, not vaultca, verifies it).
std::string Jwt(const Json& claims) {
  return absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"RS256"})"), ".",
                      absl::WebSafeBase64Escape(claims.dump()), ".c2ln");
}

std::string TokenExpiring(absl::Time exp, const std::string& tag) {
  return Jwt({{"exp", absl::ToUnixSeconds(exp)}, {"tag", tag}});
}

absl::StatusOr<Caller> Try(TokenReviewAuthenticator& auth,
                           const std::string& token) {
  AuthRequest request;
  request.bearer_token = SecretData(token);
  return auth.Authenticate(request);
}

class TokenReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("token-review");
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

  std::string Token(const std::string& tag) {
    return TokenExpiring(clock_.Now() + absl::Hours(1), tag);
  }

  testkit::FakeClock clock_{absl::Now()};
  std::string dir_;
  std::unique_ptr<testing::FakeKubeApi> kube_;
  std::shared_ptr<const KubeApiClient> api_;
};

TEST_F(TokenReviewTest, AcceptsServiceAccountWithPod) {
  const std::string token = Token("a");
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
  // Asks the API server: never on gRPC's thread.
  EXPECT_TRUE(auth->MayBlock());
}

TEST_F(TokenReviewTest, RejectsUnknownAndMalformedTokens) {
  auto auth = Make();
  auto caller = Try(*auth, Token("unknown"));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not authenticated"));
  caller = Try(*auth, "not a \"jwt\"");
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not a JWT"));
  EXPECT_EQ(Try(*auth, "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(kube_->token_reviews(), 1);
}

// Every token here fails a check vaultca can make itself, so none may cost
// the API server a review.
TEST_F(TokenReviewTest, RefusesLocallyWhatCannotPass) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  const std::string b64_header = absl::WebSafeBase64Escape(R"({"alg":"RS256"})");
  const std::vector<std::string> tokens = {
      "garbage",
      "a.b",
      "a.b.c.d",
      b64_header + ".." + "c2ln",
      b64_header + "." + absl::WebSafeBase64Escape("[1]") + ".c2ln",
      b64_header + "." + absl::WebSafeBase64Escape("{") + ".c2ln",
      b64_header + "." + absl::Base64Escape(R"({"exp":99999999999}??)") +
          ".c2ln",
      Jwt({{"sub", "system:serviceaccount:default:sleep"}}),
      Jwt({{"exp", absl::StrCat(now + 3600)}}),
      Jwt({{"exp", now - 1}}),
      Jwt({{"exp", now}}),
      Jwt({{"exp", 1e300}}),
      Jwt({{"exp", -1e300}}),
      Jwt({{"exp", now + 3600}, {"aud", "kubernetes"}}),
      Jwt({{"exp", now + 3600}, {"aud", {"kubernetes", "vault"}}}),
      Jwt({{"exp", now + 3600}, {"aud", Json::array()}}),
      std::string(100000, 'a'),
  };
  auto auth = Make();
  for (const std::string& token : tokens) {
    auto caller = Try(*auth, token);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated)
        << token.substr(0, 80);
    EXPECT_THAT(caller.status().message(), HasSubstr("before TokenReview"))
        << token.substr(0, 80);
  }
  EXPECT_EQ(kube_->token_reviews(), 0);
  EXPECT_EQ(auth->reviews(), 0);
  EXPECT_EQ(auth->stats().locally_refused, static_cast<int64_t>(tokens.size()));
}

TEST_F(TokenReviewTest, TokensWithAMatchingOrNoAudienceAreReviewed) {
  const int64_t exp = absl::ToUnixSeconds(clock_.Now() + absl::Hours(1));
  const std::string one = Jwt({{"exp", exp}, {"aud", "istio-ca"}});
  const std::string many = Jwt({{"exp", exp}, {"aud", {"x", "istio-ca"}}});
  const std::string none = Jwt({{"exp", exp}});
  for (const std::string& token : {one, many, none}) {
    kube_->AddToken(token, "default", "sleep");
  }
  auto auth = Make();
  for (const std::string& token : {one, many, none}) {
    EXPECT_TRUE(Try(*auth, token).ok());
  }
  EXPECT_EQ(kube_->token_reviews(), 3);
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
  EXPECT_EQ(auth->stats().cache_hits, 19);
  // The token's exp (2 min) bounds the cache before cache_ttl (5 min): at
  // 3 min the token is expired and refused without a review.
  clock_.Advance(absl::Minutes(3));
  auto caller = Try(*auth, token);
  EXPECT_THAT(caller.status().message(), HasSubstr("expired"));
  EXPECT_EQ(kube_->token_reviews(), 1);
}

TEST_F(TokenReviewTest, CacheTtlBoundsPositiveResults) {
  const std::string token = Token("ttl");
  kube_->AddToken(token, "default", "sleep");
  TokenReviewOptions options;
  options.cache_ttl = absl::Minutes(5);
  auto auth = Make(options);
  ASSERT_TRUE(Try(*auth, token).ok());
  clock_.Advance(absl::Minutes(4));
  ASSERT_TRUE(Try(*auth, token).ok());
  EXPECT_EQ(kube_->token_reviews(), 1);
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(Try(*auth, token).ok());
  EXPECT_EQ(kube_->token_reviews(), 2);
}

TEST_F(TokenReviewTest, NegativeAnswersAreRefusedFromMemoryForTheirTtl) {
  TokenReviewOptions options;
  options.negative_cache_ttl = absl::Seconds(5);
  auto auth = Make(options);
  const std::string bad = Token("bad");
  for (int i = 0; i < 100; ++i) {
    auto caller = Try(*auth, bad);
    ASSERT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(caller.status().message(), HasSubstr("not authenticated"));
  }
  EXPECT_EQ(kube_->token_reviews(), 1);
  EXPECT_EQ(auth->stats().negative_cache_hits, 99);
  // The API server would now accept it (its pod was just created, say): the
  // refusal holds only for the short TTL.
  kube_->AddToken(bad, "default", "sleep");
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(Try(*auth, bad).ok());
  EXPECT_EQ(kube_->token_reviews(), 1);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Try(*auth, bad).ok());
  EXPECT_EQ(kube_->token_reviews(), 2);
}

TEST_F(TokenReviewTest, NegativeCacheCanBeDisabledAndIsBounded) {
  TokenReviewOptions off;
  off.negative_cache_ttl = absl::ZeroDuration();
  auto auth = Make(off);
  const std::string bad = Token("bad");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Try(*auth, bad).ok());
  EXPECT_EQ(kube_->token_reviews(), 3);

  TokenReviewOptions small;
  small.negative_cache_max_entries = 2;
  auth = Make(small);
  const std::vector<std::string> tokens = {Token("n0"), Token("n1"),
                                           Token("n2")};
  for (const std::string& token : tokens) EXPECT_FALSE(Try(*auth, token).ok());
  EXPECT_EQ(kube_->token_reviews(), 6);
  // The third did not fit: asking again reviews again; the first is cached.
  EXPECT_FALSE(Try(*auth, tokens[2]).ok());
  EXPECT_EQ(kube_->token_reviews(), 7);
  EXPECT_FALSE(Try(*auth, tokens[0]).ok());
  EXPECT_EQ(kube_->token_reviews(), 7);
  // Once the entries expire the full cache makes room again.
  clock_.Advance(absl::Seconds(10));
  EXPECT_FALSE(Try(*auth, tokens[2]).ok());
  EXPECT_FALSE(Try(*auth, tokens[2]).ok());
  EXPECT_EQ(kube_->token_reviews(), 8);
}

TEST_F(TokenReviewTest, CacheIsBounded) {
  TokenReviewOptions options;
  options.cache_max_entries = 2;
  auto auth = Make(options);
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    tokens.push_back(Token(absl::StrCat("t", i)));
    kube_->AddToken(tokens.back(), "default", absl::StrCat("sa", i));
    ASSERT_TRUE(Try(*auth, tokens.back()).ok());
  }
  // The third did not fit: asking again reviews again.
  ASSERT_TRUE(Try(*auth, tokens[2]).ok());
  EXPECT_EQ(kube_->token_reviews(), 4);
  ASSERT_TRUE(Try(*auth, tokens[0]).ok());
  EXPECT_EQ(kube_->token_reviews(), 4);
}

TEST_F(TokenReviewTest, ApiOutageIsUnavailableNotCachedAndCacheStillServes) {
  const std::string token = Token("c");
  kube_->AddToken(token, "default", "sleep");
  auto auth = Make();
  ASSERT_TRUE(Try(*auth, token).ok());
  kube_->SetDown(true);
  EXPECT_TRUE(Try(*auth, token).ok());
  const std::string other = Token("d");
  kube_->AddToken(other, "default", "other");
  EXPECT_EQ(Try(*auth, other).status().code(), absl::StatusCode::kUnavailable);
  // An outage says nothing about the token: once the API server is back,
  // the same token is reviewed and accepted.
  kube_->SetDown(false);
  EXPECT_TRUE(Try(*auth, other).ok());
  EXPECT_EQ(auth->stats().negative_cache_hits, 0);
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

// A TokenReview endpoint on 127.0.0.1 over TLS whose answer is computed by
// a test-supplied function of the reviewed token, after a test-set delay.
// It records the most reviews it ever had in flight at once.
class ScriptedKubeApi {
 public:
  // Returns the TokenReview "status" for `token`.
  using Answer = std::function<Json(const std::string& token)>;

  explicit ScriptedKubeApi(const std::string& dir)
      : tls_(testkit::WriteLoopbackTlsServerFiles(dir, "scripted-kube")),
        token_file_(dir + "/scripted-kube-token"),
        server_(tls_.cert_file.c_str(), tls_.key_file.c_str()) {
    FILE* f = std::fopen(token_file_.c_str(), "w");
    std::fputs("client-token\n", f);
    std::fclose(f);
    // More server threads than any test sends at once, so the server never
    // queues and in-flight counts are the client's doing.
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server_.Post("/apis/authentication.k8s.io/v1/tokenreviews",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   Serve(req, res);
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) absl::SleepFor(absl::Milliseconds(1));
  }
  ~ScriptedKubeApi() {
    server_.stop();
    thread_.join();
  }

  std::shared_ptr<const KubeApiClient> Client() const {
    KubeApiOptions api;
    api.api_server = absl::StrCat("https://127.0.0.1:", port_);
    api.ca_file = tls_.ca_file;
    api.token_file = token_file_;
    auto client = KubeApiClient::New(api);
    if (!client.ok()) return nullptr;
    return *std::move(client);
  }

  void SetAnswer(Answer answer) {
    MutexLock lock(&mu_);
    answer_ = std::move(answer);
  }
  void SetDelay(absl::Duration delay) {
    MutexLock lock(&mu_);
    delay_ = delay;
  }
  // Holds every review until Open() (a stuck API server).
  void Close() {
    MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    opened_.SignalAll();
  }

  int reviews() const { return reviews_.load(); }
  int in_flight() const { return in_flight_.load(); }
  int peak_in_flight() const { return peak_.load(); }

 private:
  void Serve(const httplib::Request& req, httplib::Response& res) {
    const int now = ++in_flight_;
    int seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
    ++reviews_;
    Json review = Json::parse(req.body, nullptr, false);
    std::string token;
    if (review.is_object() && review.contains("spec") &&
        review["spec"].is_object()) {
      token = review["spec"].value("token", "");
    }
    Answer answer;
    absl::Duration delay;
    {
      MutexLock lock(&mu_);
      while (!open_) opened_.Wait(&mu_);
      answer = answer_;
      delay = delay_;
    }
    absl::SleepFor(delay);
    Json status = answer ? answer(token) : Json{{"authenticated", false}};
    res.status = 201;
    res.set_content(Json{{"kind", "TokenReview"}, {"status", status}}.dump(),
                    "application/json");
    --in_flight_;
  }

  testkit::TlsServerFiles tls_;
  const std::string token_file_;
  httplib::SSLServer server_;
  int port_ = 0;
  std::thread thread_;
  Mutex mu_;
  CondVar opened_;
  Answer answer_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  std::atomic<int> reviews_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_{0};
};

// The "status" of an accepted service-account token.
Json Accepted(const std::string& ns, const std::string& sa,
              const Json& audiences = Json::array({"istio-ca"})) {
  Json status = {
      {"authenticated", true},
      {"user",
       {{"username", absl::StrCat("system:serviceaccount:", ns, ":", sa)},
        {"groups", {"system:serviceaccounts", "system:authenticated"}}}}};
  if (!audiences.is_null()) status["audiences"] = audiences;
  return status;
}

class ScriptedTokenReviewTest : public ::testing::Test {
 protected:
  std::unique_ptr<TokenReviewAuthenticator> Make(TokenReviewOptions options =
                                                     {}) {
    options.clock = clock_.AsFunction();
    return std::make_unique<TokenReviewAuthenticator>(kube_.Client(), options);
  }
  std::string Token(const std::string& tag) {
    return TokenExpiring(clock_.Now() + absl::Hours(1), tag);
  }

  testkit::FakeClock clock_{absl::Now()};
  std::string dir_ = testkit::MakeTempDir("token-review-scripted");
  ScriptedKubeApi kube_{dir_};
};

// k8s.io/apiserver's webhook authenticator: answered audiences must meet
// the requested ones; without any, the requested ones are assumed (as
// Istio's client, which never looks at them).
TEST_F(ScriptedTokenReviewTest, AnsweredAudiencesMustMeetTheRequestedOnes) {
  struct Case {
    Json audiences;
    absl::StatusCode want;
  } cases[] = {
      {Json::array({"istio-ca"}), absl::StatusCode::kOk},
      {Json::array({"other", "istio-ca"}), absl::StatusCode::kOk},
      {Json(nullptr), absl::StatusCode::kOk},  // absent
      {Json::array(), absl::StatusCode::kOk},
      {Json::array({"https://kubernetes.default.svc"}),
       absl::StatusCode::kUnauthenticated},
      {Json::array({"istio-ca-2", 7}), absl::StatusCode::kUnauthenticated},
      {Json("istio-ca"), absl::StatusCode::kUnavailable},  // not a list
  };
  for (const Case& c : cases) {
    kube_.SetAnswer([&c](const std::string&) {
      return Accepted("default", "sleep", c.audiences);
    });
    auto auth = Make();
    auto caller = Try(*auth, Token("aud"));
    EXPECT_EQ(caller.status().code(), c.want) << c.audiences.dump();
    if (c.want == absl::StatusCode::kUnauthenticated) {
      EXPECT_THAT(caller.status().message(),
                  HasSubstr("none of the requested audiences"));
    }
  }
}

// What the API server says is an identity is only taken when Kubernetes
// itself could have made it: it ends up in SPIFFE ids and API paths.
TEST_F(ScriptedTokenReviewTest, RefusesUsernamesKubernetesCouldNotHaveMade) {
  for (const char* username :
       {"system:serviceaccount:../x:sa", "system:serviceaccount:default:..",
        "system:serviceaccount:default:a%2Fb", "system:serviceaccount:Default:sa",
        "system:serviceaccount:default:sa/../../x",
        "system:serviceaccount::sa", "system:serviceaccount:default:",
        "system:serviceaccount:default:sa:extra", "admin"}) {
    kube_.SetAnswer([username](const std::string&) {
      Json status = Accepted("default", "sleep");
      status["user"]["username"] = username;
      return status;
    });
    auto auth = Make();
    auto caller = Try(*auth, Token("user"));
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated)
        << username;
  }
  kube_.SetAnswer([](const std::string&) {
    Json status = Accepted("default", "sleep");
    status["user"]["groups"] = {"system:masters", "system:authenticated"};
    return status;
  });
  auto auth = Make();
  EXPECT_THAT(Try(*auth, Token("admin")).status().message(),
              HasSubstr("not a service account"));
}

TEST_F(ScriptedTokenReviewTest, SameTokenInFlightSharesOneReview) {
  kube_.SetAnswer(
      [](const std::string&) { return Accepted("default", "sleep"); });
  kube_.SetDelay(absl::Milliseconds(200));
  auto auth = Make();
  const std::string token = Token("shared");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] { ok += Try(*auth, token).ok() ? 1 : 0; });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(kube_.reviews(), 1);
  EXPECT_EQ(auth->reviews(), 1);
  // Every other caller either joined the review or found its answer cached.
  const TokenReviewStats stats = auth->stats();
  EXPECT_EQ(stats.coalesced + stats.cache_hits, 15);
  EXPECT_GT(stats.coalesced, 0);
}

TEST_F(ScriptedTokenReviewTest, FullQueueIsUnavailableAndNotRemembered) {
  const std::string first = Token("first");
  const std::string second = Token("second");
  kube_.SetAnswer(
      [](const std::string&) { return Accepted("default", "sleep"); });
  TokenReviewOptions options;
  options.max_concurrent_reviews = 1;
  options.review_queue_timeout = absl::Milliseconds(100);
  auto auth = Make(options);
  kube_.Close();
  std::thread stuck([&] { EXPECT_TRUE(Try(*auth, first).ok()); });
  while (kube_.in_flight() < 1) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time start = absl::Now();
  auto caller = Try(*auth, second);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(caller.status().message(),
              HasSubstr("too many TokenReviews in flight (1)"));
  EXPECT_EQ(auth->stats().queue_timeouts, 1);
  kube_.Open();
  stuck.join();
  // Istio's client retries Unavailable; the retry is reviewed.
  EXPECT_TRUE(Try(*auth, second).ok());
  EXPECT_EQ(kube_.reviews(), 2);
}

// A slow API server (50 ms a review) and a flood of garbage from 24
// threads: malformed and expired tokens, one bad token over and over, and
// well-formed unknown tokens, each new (the only kind that costs a
// review). Meanwhile 8 valid callers authenticate. In-flight reviews never
// exceed the bound, and valid callers are served in turn rather than
// starved: each waits at most for the callers queued before it.
TEST_F(ScriptedTokenReviewTest, GarbageFloodDoesNotStarveValidCallers) {
  constexpr int kBound = 4;
  constexpr int kGarbageThreads = 24;
  constexpr int kValidCallers = 8;
  const absl::Duration kLatency = absl::Milliseconds(50);
  kube_.SetDelay(kLatency);
  std::vector<std::string> valid;
  for (int i = 0; i < kValidCallers; ++i) {
    valid.push_back(Token(absl::StrCat("valid-", i)));
  }
  kube_.SetAnswer([valid](const std::string& token) {
    for (size_t i = 0; i < valid.size(); ++i) {
      if (token == valid[i]) return Accepted("default", absl::StrCat("sa-", i));
    }
    return Json{{"authenticated", false}, {"error", "invalid bearer token"}};
  });
  TokenReviewOptions options;
  options.max_concurrent_reviews = kBound;
  options.review_queue_timeout = absl::Seconds(5);
  auto auth = Make(options);

  const std::string repeated_bad = Token("repeated-bad");
  const std::string expired = TokenExpiring(clock_.Now() - absl::Minutes(1), "e");
  std::atomic<bool> stop{false};
  std::atomic<int> garbage_sent{0}, garbage_accepted{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < kGarbageThreads; ++t) {
    flood.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        std::string token;
        switch (i % 4) {
          case 0: token = "not-a-jwt"; break;
          case 1: token = expired; break;
          case 2: token = repeated_bad; break;
          default: token = Token(absl::StrCat("garbage-", t, "-", i)); break;
        }
        ++garbage_sent;
        if (Try(*auth, token).ok()) ++garbage_accepted;
      }
    });
  }
  // Let the flood fill the queue first.
  while (kube_.reviews() < 2 * kBound) absl::SleepFor(absl::Milliseconds(5));

  std::atomic<int> valid_ok{0};
  std::vector<absl::Duration> latency(kValidCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kValidCallers; ++i) {
    callers.emplace_back([&, i] {
      const absl::Time start = absl::Now();
      auto caller = Try(*auth, valid[i]);
      latency[i] = absl::Now() - start;
      if (caller.ok()) {
        ++valid_ok;
      } else {
        ADD_FAILURE() << "valid caller " << i << ": " << caller.status();
      }
    });
  }
  for (std::thread& t : callers) t.join();
  stop = true;
  for (std::thread& t : flood) t.join();

  EXPECT_EQ(valid_ok.load(), kValidCallers);
  EXPECT_EQ(garbage_accepted.load(), 0);
  EXPECT_LE(kube_.peak_in_flight(), kBound);
  EXPECT_EQ(kube_.peak_in_flight(), kBound);  // The flood did fill it.
  // Nobody waited out the queue: with at most 31 callers ahead and 4 at a
  // time, a valid caller waits about 8 review latencies (~0.4 s).
  const TokenReviewStats stats = auth->stats();
  EXPECT_EQ(stats.queue_timeouts, 0);
  // Malformed and expired tokens never reached the API server, and the
  // repeated bad token was reviewed about once per negative-cache TTL (the
  // fake clock does not move: once, plus reviews that were in flight
  // together with the first).
  EXPECT_GE(stats.locally_refused, garbage_sent.load() / 2 - kGarbageThreads);
  EXPECT_GT(stats.negative_cache_hits + stats.coalesced, 0);
  EXPECT_EQ(stats.reviews, kube_.reviews());
  std::printf("flood: %d garbage requests -> %d reviews (%lld refused locally, "
              "%lld from the negative cache, %lld joined); valid callers "
              "waited at most %s\n",
              garbage_sent.load(), kube_.reviews() - kValidCallers,
              static_cast<long long>(stats.locally_refused),
              static_cast<long long>(stats.negative_cache_hits),
              static_cast<long long>(stats.coalesced),
              absl::FormatDuration(*std::max_element(latency.begin(),
                                                     latency.end()))
                  .c_str());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
