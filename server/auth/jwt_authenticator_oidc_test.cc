// JwtAuthenticator with keys fetched over HTTPS: a JWKS URL and OIDC
// discovery, against a loopback issuer served over real TLS.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "server/auth/jwt_authenticator.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"
#include "testing/test_pki.h"
#include "testing/tls.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;
using testkit::JwksJson;
using testkit::SaClaims;
using testkit::SaClaimsJson;
using testkit::SignJwt;
using testkit::TestJwtKey;

// An OIDC issuer on 127.0.0.1: /.well-known/openid-configuration and
// /keys, whose key set the test swaps and whose outages it switches on.
class OidcIssuer {
 public:
  explicit OidcIssuer(const std::string& dir)
      : tls_(testkit::WriteLoopbackTlsServerFiles(dir, "issuer")),
        server_(tls_.cert_file.c_str(), tls_.key_file.c_str()) {
    server_.Get("/.well-known/openid-configuration",
                [this](const httplib::Request&, httplib::Response& res) {
                  std::string claimed = issuer();
                  {
                    MutexLock lock(&mu_);
                    if (!claimed_issuer_.empty()) claimed = claimed_issuer_;
                  }
                  Serve(res, absl::StrCat("{\"issuer\":\"", claimed,
                                          "\",\"jwks_uri\":\"", issuer(),
                                          "/keys\"}"));
                });
    server_.Get("/keys", [this](const httplib::Request&,
                                httplib::Response& res) {
      ++key_fetches_;
      MutexLock lock(&mu_);
      Serve(res, jwks_);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) absl::SleepFor(absl::Milliseconds(1));
  }
  ~OidcIssuer() {
    server_.stop();
    thread_.join();
  }

  std::string issuer() const { return absl::StrCat("https://127.0.0.1:", port_); }
  const std::string& ca_file() const { return tls_.ca_file; }
  int key_fetches() const { return key_fetches_.load(); }
  void SetKeys(const std::string& jwks) {
    MutexLock lock(&mu_);
    jwks_ = jwks;
  }
  void SetDown(bool down) { down_ = down; }
  // The "issuer" the discovery document claims; empty: the real one.
  void SetClaimedIssuer(const std::string& issuer) {
    MutexLock lock(&mu_);
    claimed_issuer_ = issuer;
  }

 private:
  void Serve(httplib::Response& res, const std::string& body) {
    if (down_.load()) {
      res.status = 503;
      return;
    }
    res.set_content(body, "application/json");
  }

  testkit::TlsServerFiles tls_;
  httplib::SSLServer server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> key_fetches_{0};
  std::atomic<bool> down_{false};
  Mutex mu_;
  std::string jwks_ ABSL_GUARDED_BY(mu_);
  std::string claimed_issuer_ ABSL_GUARDED_BY(mu_);
};

class JwtOidcTest : public ::testing::Test {
 protected:
  void SetUp() override { issuer_.SetKeys(JwksJson({old_key_})); }

  JwtAuthenticatorOptions Options() {
    JwtAuthenticatorOptions options;
    options.issuer = issuer_.issuer();
    options.oidc_discovery = true;
    options.jwks_ca_file = issuer_.ca_file();
    options.clock = clock_.AsFunction();
    return options;
  }

  std::string Token(const TestJwtKey& key) {
    SaClaims claims;
    claims.issuer = issuer_.issuer();
    claims.issued_at = clock_.Now() - absl::Minutes(1);
    return SignJwt(key, SaClaimsJson(claims));
  }

  absl::StatusOr<Caller> Try(JwtAuthenticator& auth, const std::string& jwt) {
    AuthRequest request;
    request.bearer_token = SecretData(jwt);
    return auth.Authenticate(request);
  }

  std::string dir_ = testkit::MakeTempDir("oidc");
  OidcIssuer issuer_{dir_};
  testkit::FakeClock clock_{absl::Now()};
  TestJwtKey old_key_{"old", "RS256", 0};
  TestJwtKey new_key_{"new", "ES256", 1};
};

TEST_F(JwtOidcTest, DiscoversTheJwksAndVerifiesTokens) {
  auto auth = JwtAuthenticator::New(Options());
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto caller = Try(**auth, Token(old_key_));
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->identities[0], "spiffe://cluster.local/ns/default/sa/sleep");
  EXPECT_EQ(issuer_.key_fetches(), 1);
  // An unknown key id makes it fetch again: never on gRPC's thread.
  EXPECT_TRUE((*auth)->MayBlock());
}

// OpenID Connect Discovery 1.0 section 4.3: the document's "issuer" must
// equal the issuer it was fetched for, else its keys are not that issuer's.
TEST_F(JwtOidcTest, DiscoveryDocumentOfAnotherIssuerIsRefused) {
  for (const char* claimed :
       {"https://evil.example", "https://127.0.0.1:1", ""}) {
    issuer_.SetClaimedIssuer(claimed);
    if (std::string(claimed).empty()) {
      // A document naming no issuer at all.
      issuer_.SetClaimedIssuer("\",\"x\":\"");
    }
    auto auth = JwtAuthenticator::New(Options());
    ASSERT_TRUE(auth.ok()) << auth.status();
    absl::StatusOr<Caller> caller = Try(**auth, Token(old_key_));
    EXPECT_FALSE(caller.ok()) << claimed;
    EXPECT_EQ(issuer_.key_fetches(), 0) << claimed;
  }
  issuer_.SetClaimedIssuer("");
  auto auth = JwtAuthenticator::New(Options());
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(Try(**auth, Token(old_key_)).ok());
}

TEST_F(JwtOidcTest, ExplicitJwksUriSkipsDiscovery) {
  JwtAuthenticatorOptions options = Options();
  options.oidc_discovery = false;
  options.jwks_uri = issuer_.issuer() + "/keys";
  auto auth = JwtAuthenticator::New(options);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(Try(**auth, Token(old_key_)).ok());
}

TEST_F(JwtOidcTest, UnknownKidRefetchesAtMostOncePerInterval) {
  auto auth = JwtAuthenticator::New(Options());
  ASSERT_TRUE(auth.ok()) << auth.status();
  issuer_.SetKeys(JwksJson({old_key_, new_key_}));
  // Within the minimum re-fetch interval of the first fetch: refused.
  auto early = Try(**auth, Token(new_key_));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(early.status().message(), HasSubstr("unknown key id"));
  EXPECT_EQ(issuer_.key_fetches(), 1);
  // After it, the unknown kid triggers a fetch that finds the rotated key.
  clock_.Advance(absl::Seconds(31));
  EXPECT_TRUE(Try(**auth, Token(new_key_)).ok());
  EXPECT_EQ(issuer_.key_fetches(), 2);
  // Known kids do not fetch again before the refresh interval.
  EXPECT_TRUE(Try(**auth, Token(old_key_)).ok());
  EXPECT_EQ(issuer_.key_fetches(), 2);
}

TEST_F(JwtOidcTest, OutagesKeepTheKeysAndStartUpHeals) {
  issuer_.SetDown(true);
  auto auth = JwtAuthenticator::New(Options());
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto refused = Try(**auth, Token(old_key_));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(), HasSubstr("not been fetched"));

  issuer_.SetDown(false);
  clock_.Advance(absl::Seconds(31));
  EXPECT_TRUE(Try(**auth, Token(old_key_)).ok());

  // A refresh that fails keeps the keys in use.
  issuer_.SetDown(true);
  clock_.Advance(absl::Minutes(6));
  EXPECT_TRUE(Try(**auth, Token(old_key_)).ok());
}

TEST_F(JwtOidcTest, UntrustedIssuerCertificateIsNotUsed) {
  JwtAuthenticatorOptions options = Options();
  // A root of another key: the issuer's certificate does not chain to it.
  options.jwks_ca_file = dir_ + "/other-ca.crt";
  ASSERT_TRUE(testkit::WriteTestFile(
                  options.jwks_ca_file,
                  testkit::Root(ca::KeyType::kRsa).root_bundle_pem)
                  .ok());
  auto auth = JwtAuthenticator::New(options);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE(Try(**auth, Token(old_key_)).ok());
  EXPECT_EQ(issuer_.key_fetches(), 0);
}

TEST_F(JwtOidcTest, RefusesPlainHttpAndAmbiguousSources) {
  JwtAuthenticatorOptions options = Options();
  options.oidc_discovery = false;
  options.jwks_uri = "http://127.0.0.1:1/keys";
  EXPECT_EQ(JwtAuthenticator::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.jwks_uri = issuer_.issuer() + "/keys";
  options.oidc_discovery = true;
  EXPECT_EQ(JwtAuthenticator::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
