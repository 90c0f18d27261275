#include "server/auth/jwt_authenticator.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testkit::JwksJson;
using testkit::SaClaims;
using testkit::SaClaimsJson;
using testkit::SignJwt;
using testkit::TestJwtKey;

constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";

class JwtAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("jwt");
    jwks_path_ = dir_ + "/jwks.json";
    ASSERT_TRUE(testkit::WriteTestFile(
                    jwks_path_, JwksJson({rsa_, ec_}))
                    .ok());
  }

  std::unique_ptr<JwtAuthenticator> Make(
      const std::string& trust_domain = "cluster.local") {
    JwtAuthenticatorOptions options;
    options.issuer = kIssuer;
    options.jwks_file = jwks_path_;
    options.trust_domain = trust_domain;
    options.clock = clock_.AsFunction();
    auto auth = JwtAuthenticator::New(options);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }

  absl::StatusOr<Caller> Try(JwtAuthenticator& auth, const std::string& jwt) {
    AuthRequest request;
    request.bearer_token = SecretData(jwt);
    return auth.Authenticate(request);
  }

  SaClaims Claims() {
    SaClaims c;
    c.issued_at = clock_.Now() - absl::Minutes(1);
    return c;
  }

  testkit::FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  TestJwtKey rsa_{"rsa-1", "RS256", 0};
  TestJwtKey ec_{"ec-1", "ES256", 0};
  std::string dir_;
  std::string jwks_path_;
};

TEST_F(JwtAuthenticatorTest, AcceptsRs256ServiceAccountToken) {
  auto auth = Make();
  auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(Claims())));
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://cluster.local/ns/default/sa/sleep"));
  EXPECT_EQ(caller->authenticator, "jwt");
  EXPECT_EQ(caller->kube_namespace, "default");
  EXPECT_EQ(caller->service_account, "sleep");
  EXPECT_EQ(caller->pod_name, "sleep-1");
  EXPECT_EQ(caller->pod_uid, "uid-1");
}

TEST_F(JwtAuthenticatorTest, AJwksFileNeverBlocks) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  EXPECT_FALSE(auth->MayBlock());
}

TEST_F(JwtAuthenticatorTest, AcceptsEs256AndUsesTrustDomain) {
  auto auth = Make("example.org");
  SaClaims c = Claims();
  c.kube_namespace = "prod";
  c.service_account = "api";
  auto caller = Try(*auth, SignJwt(ec_, SaClaimsJson(c)));
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://example.org/ns/prod/sa/api"));
}

TEST_F(JwtAuthenticatorTest, AcceptsSubjectOnlyAndTokenWithoutKid) {
  auto auth = Make();
  SaClaims c = Claims();
  c.kubernetes_claim = false;
  TestJwtKey no_kid = rsa_;
  no_kid.kid = "";
  auto caller = Try(*auth, SignJwt(no_kid, SaClaimsJson(c)));
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://cluster.local/ns/default/sa/sleep"));
  EXPECT_EQ(caller->pod_name, "");
}

TEST_F(JwtAuthenticatorTest, AudienceMayBeOneOfSeveral) {
  auto auth = Make();
  SaClaims c = Claims();
  c.audiences = {"https://kubernetes.default.svc", "istio-ca"};
  EXPECT_TRUE(Try(*auth, SignJwt(rsa_, SaClaimsJson(c))).ok());
}

TEST_F(JwtAuthenticatorTest, ExpiryHonoursSkew) {
  auto auth = Make();
  SaClaims c = Claims();
  c.issued_at = clock_.Now() - absl::Hours(1) - absl::Seconds(30);
  // Expired 30 s ago: inside the 60 s skew.
  EXPECT_TRUE(Try(*auth, SignJwt(rsa_, SaClaimsJson(c))).ok());
  c.issued_at = clock_.Now() - absl::Hours(1) - absl::Seconds(90);
  auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(c)));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("expired"));
}

TEST_F(JwtAuthenticatorTest, RejectsNotYetValid) {
  auto auth = Make();
  SaClaims c = Claims();
  c.issued_at = clock_.Now() + absl::Minutes(5);
  auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(c)));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("not valid before"));
}

TEST_F(JwtAuthenticatorTest, RejectsWrongAudience) {
  auto auth = Make();
  SaClaims c = Claims();
  c.audiences = {"https://kubernetes.default.svc"};
  auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(c)));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("audience"));
}

TEST_F(JwtAuthenticatorTest, RejectsWrongIssuer) {
  auto auth = Make();
  SaClaims c = Claims();
  c.issuer = "https://evil.example";
  auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(c)));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("issuer"));
}

TEST_F(JwtAuthenticatorTest, RejectsBadSignature) {
  auto auth = Make();
  // Same kid, different key.
  TestJwtKey forged{"rsa-1", "RS256", 1};
  auto caller = Try(*auth, SignJwt(forged, SaClaimsJson(Claims())));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("signature"));

  // A valid token whose payload was swapped for another account's.
  const std::string good = SignJwt(rsa_, SaClaimsJson(Claims()));
  SaClaims other = Claims();
  other.service_account = "admin";
  const std::string evil = SignJwt(rsa_, SaClaimsJson(other));
  const size_t a = good.find('.'), b = good.rfind('.');
  const size_t ea = evil.find('.'), eb = evil.rfind('.');
  const std::string spliced = good.substr(0, a) +
                              evil.substr(ea, eb - ea) + good.substr(b);
  caller = Try(*auth, spliced);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(JwtAuthenticatorTest, RejectsUnknownKid) {
  auto auth = Make();
  TestJwtKey unknown{"rsa-9", "RS256", 0};
  auto caller = Try(*auth, SignJwt(unknown, SaClaimsJson(Claims())));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("unknown key id"));
}

TEST_F(JwtAuthenticatorTest, RejectsOtherAlgorithms) {
  auto auth = Make();
  for (const char* alg : {"none", "HS256", "RS384", "PS256"}) {
    auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(Claims()), alg));
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated)
        << alg;
  }
  // An RS256 header over an EC key id finds no RSA key.
  TestJwtKey confused{"ec-1", "RS256", 0};
  EXPECT_FALSE(Try(*auth, SignJwt(confused, SaClaimsJson(Claims()))).ok());
}

TEST_F(JwtAuthenticatorTest, RejectsMalformedTokens) {
  auto auth = Make();
  const std::string good = SignJwt(rsa_, SaClaimsJson(Claims()));
  for (const std::string& bad :
       {std::string("abc"), std::string("a.b"), good + ".x",
        absl::StrReplaceAll(good, {{"-", "+"}, {"_", "/"}}) + "=",
        std::string(20000, 'a'), std::string("..")}) {
    auto caller = Try(*auth, bad);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  }
  AuthRequest empty;
  EXPECT_EQ(auth->Authenticate(empty).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(JwtAuthenticatorTest, RequiresAServiceAccount) {
  auto auth = Make();
  SaClaims c = Claims();
  c.kubernetes_claim = false;
  c.subject = "alice@example.com";
  auto caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(c)));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("service account"));

  c.kubernetes_claim = true;
  c.subject = "system:serviceaccount:kube-system:admin";
  caller = Try(*auth, SignJwt(rsa_, SaClaimsJson(c)));
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("different"));
}

TEST_F(JwtAuthenticatorTest, ReloadsChangedJwksAndKeepsKeysOnBadFile) {
  auto auth = Make();
  TestJwtKey rotated{"rsa-2", "RS256", 2};
  const std::string token = SignJwt(rotated, SaClaimsJson(Claims()));
  EXPECT_FALSE(Try(*auth, token).ok());

  ASSERT_TRUE(
      testkit::WriteTestFile(jwks_path_, JwksJson({rsa_, rotated})).ok());
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Try(*auth, token).ok());

  ASSERT_TRUE(testkit::WriteTestFile(jwks_path_, "{not json").ok());
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Try(*auth, token).ok());
}

// An issuer may publish keys vaultca cannot use (other key types, curves,
// a broken entry) next to its signing keys; those must not cost the rest.
TEST_F(JwtAuthenticatorTest, UnusableKeysAreSkippedNotTheWholeSet) {
  std::string jwks = JwksJson({rsa_, ec_});
  const size_t open = jwks.find('[');
  ASSERT_NE(open, std::string::npos);
  jwks.insert(open + 1,
              R"({"kty":"OKP","crv":"Ed25519","kid":"ed","x":"AAAA"},)"
              R"({"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},)"
              R"({"kty":"EC","kid":"p521","crv":"P-521","x":"AA","y":"AA"},)"
              R"({"kty":"EC","kid":"no-y","crv":"P-256","x":"AA"},)"
              R"({"kty":"RSA","kid":"mismatch","alg":"ES256","n":"AQAB"},)"
              R"({"kid":"no-kty"},"not an object",)");
  ASSERT_TRUE(testkit::WriteTestFile(jwks_path_, jwks).ok());
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  EXPECT_TRUE(Try(*auth, SignJwt(rsa_, SaClaimsJson(Claims()))).ok());
  EXPECT_TRUE(Try(*auth, SignJwt(ec_, SaClaimsJson(Claims()))).ok());
  EXPECT_FALSE(
      Try(*auth, SignJwt({"short", "RS256", 1}, SaClaimsJson(Claims()))).ok());
}

TEST_F(JwtAuthenticatorTest, NewRefusesMissingOrUnusableJwks) {
  JwtAuthenticatorOptions options;
  options.issuer = kIssuer;
  options.jwks_file = dir_ + "/missing.json";
  EXPECT_EQ(JwtAuthenticator::New(options).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(
      testkit::WriteTestFile(dir_ + "/empty.json", R"({"keys":[]})").ok());
  options.jwks_file = dir_ + "/empty.json";
  EXPECT_EQ(JwtAuthenticator::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(testkit::WriteTestFile(
                  dir_ + "/small.json",
                  R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})")
                  .ok());
  options.jwks_file = dir_ + "/small.json";
  EXPECT_EQ(JwtAuthenticator::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(testkit::WriteTestFile(
                  dir_ + "/offcurve.json",
                  R"({"keys":[{"kty":"EC","crv":"P-256",)"
                  R"("x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",)"
                  R"("y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}]})")
                  .ok());
  options.jwks_file = dir_ + "/offcurve.json";
  EXPECT_EQ(JwtAuthenticator::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
