#include "vault/auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"
#include "vault/internal/json.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Dir() { return testkit::MakeTempDir("auth_test"); }

std::string Str(const internal::SecureJson& j, const char* key) {
  return internal::StringMember(j, key).value_or("<missing>");
}

TEST(AuthTest, TokenFromConfig) {
  AuthConfig auth;
  auth.token = SecretData("s.abc");
  auto a = NewAuthenticator(auth);
  ASSERT_TRUE(a.ok());
  auto creds = (*a)->GetCredentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_TRUE(creds->is_token());
  EXPECT_EQ(creds->token.view(), "s.abc");
}

TEST(AuthTest, TokenFileIsReReadAndTrimmed) {
  const std::string dir = Dir();
  auto path = testkit::WriteFileIn(dir, "token", "s.one\n");
  AuthConfig auth;
  auth.token_file = *path;
  auto a = NewAuthenticator(auth);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->GetCredentials()->token.view(), "s.one");
  testkit::WriteFileIn(dir, "token", "s.two").IgnoreError();
  EXPECT_EQ((*a)->GetCredentials()->token.view(), "s.two");
}

TEST(AuthTest, KubernetesBodyHasRoleAndFreshJwt) {
  const std::string dir = Dir();
  auto path = testkit::WriteFileIn(dir, "jwt", "eyJ.first.sig\n");
  AuthConfig auth;
  auth.method = AuthMethod::kKubernetes;
  auth.role = "istiod";
  auth.jwt_file = *path;
  auto a = NewAuthenticator(auth);
  ASSERT_TRUE(a.ok());
  auto creds = (*a)->GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ(creds->login_path, "auth/kubernetes/login");
  auto json = internal::ParseJson(creds->login_body.view());
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(Str(*json, "role"), "istiod");
  EXPECT_EQ(Str(*json, "jwt"), "eyJ.first.sig");
  // A rotated projected token is picked up at the next login.
  testkit::WriteFileIn(dir, "jwt", "eyJ.second.sig").IgnoreError();
  json = internal::ParseJson((*a)->GetCredentials()->login_body.view());
  EXPECT_EQ(Str(*json, "jwt"), "eyJ.second.sig");
}

TEST(AuthTest, JwtUsesItsMountAndEscapes) {
  const std::string dir = Dir();
  auto path = testkit::WriteFileIn(dir, "jwt", "a\"b\\c");
  AuthConfig auth;
  auth.method = AuthMethod::kJwt;
  auth.role = "r\"1";
  auth.mount = "/auth/jwt-prod/";
  auth.jwt_file = *path;
  auto creds = (*NewAuthenticator(auth))->GetCredentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->login_path, "auth/jwt-prod/login");
  auto json = internal::ParseJson(creds->login_body.view());
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(Str(*json, "role"), "r\"1");
  EXPECT_EQ(Str(*json, "jwt"), "a\"b\\c");
}

TEST(AuthTest, AppRoleReadsSecretIdFile) {
  const std::string dir = Dir();
  auto path = testkit::WriteFileIn(dir, "sid", "secret-id-1\n");
  AuthConfig auth;
  auth.method = AuthMethod::kAppRole;
  auth.approle_role_id = "role-id";
  auth.approle_secret_id_file = *path;
  auto creds = (*NewAuthenticator(auth))->GetCredentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->login_path, "auth/approle/login");
  auto json = internal::ParseJson(creds->login_body.view());
  EXPECT_EQ(Str(*json, "role_id"), "role-id");
  EXPECT_EQ(Str(*json, "secret_id"), "secret-id-1");
}

TEST(AuthTest, CertNamesTheRole) {
  AuthConfig auth;
  auth.method = AuthMethod::kCert;
  auth.role = "web";
  auto creds = (*NewAuthenticator(auth))->GetCredentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->login_path, "auth/cert/login");
  EXPECT_EQ(Str(*internal::ParseJson(creds->login_body.view()), "name"), "web");
  auth.role.clear();
  creds = (*NewAuthenticator(auth))->GetCredentials();
  EXPECT_EQ(creds->login_body.view(), "{}");
}

TEST(AuthTest, MissingAndEmptyFilesFailWithoutContent) {
  const std::string dir = Dir();
  AuthConfig auth;
  auth.method = AuthMethod::kKubernetes;
  auth.role = "r";
  auth.jwt_file = dir + "/absent";
  auto creds = (*NewAuthenticator(auth))->GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(creds.status().message()), HasSubstr("absent"));

  auth.jwt_file = *testkit::WriteFileIn(dir, "blank", " \n\n");
  creds = (*NewAuthenticator(auth))->GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_THAT(std::string(creds.status().message()), HasSubstr("is empty"));
}

TEST(AuthTest, ReadCredentialFileNeverEchoesContent) {
  const std::string dir = Dir();
  auto path = testkit::WriteFileIn(dir, "big", std::string(2 << 20, 'S'));
  auto read = ReadCredentialFile(*path, "test file");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()), Not(HasSubstr("SSSS")));
}

TEST(AuthTest, MissingFieldsRejected) {
  AuthConfig auth;
  EXPECT_FALSE(NewAuthenticator(auth).ok());  // Token without a token.
  auth.method = AuthMethod::kKubernetes;
  EXPECT_FALSE(NewAuthenticator(auth).ok());  // No role.
  auth.method = AuthMethod::kAppRole;
  auth.approle_role_id = "x";
  EXPECT_FALSE(NewAuthenticator(auth).ok());  // No secret id.
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
