// VaultClient auth methods and token lifecycle against a fake Vault on the
// wire: logins, re-login on 403, renewal in the background and lazily.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/client.h"
#include "vault/testing/client_fixture.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ClientTest;
using testing::FakeVault;
using testing::KvV1Body;
using testing::KvV2Body;
using testing::kKvPath;
using testing::kRootToken;
using testing::LoginBody;
using testing::LookupSelfBody;
using testing::RecordedRequest;
using testing::Reply;

TEST_F(ClientTest, KubernetesLoginThenReadWithIssuedToken) {
  const std::string jwt_file = WriteFile("sa-token", "eyJhbGciOi.sa-jwt.sig\n");
  fake_->Handle("POST", "/v1/auth/kubernetes/login", [](const RecordedRequest& r) {
    Reply reply;
    if (!absl::StrContains(r.body, R"("role":"istiod")") ||
        !absl::StrContains(r.body, R"("jwt":"eyJhbGciOi.sa-jwt.sig")")) {
      reply.status = 400;
      reply.body = R"({"errors":["invalid role or jwt"]})";
      return reply;
    }
    reply.body = LoginBody("s.k8s", 3600, true);
    return reply;
  });
  fake_->RequireToken("s.k8s");
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"certificate":"C"})", 1));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = jwt_file;
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/kubernetes/login"), 1);
  TokenInfo info = client->token_info();
  EXPECT_TRUE(info.has_token);
  EXPECT_EQ(info.ttl, absl::Seconds(3600));
  EXPECT_TRUE(info.renewable);
  EXPECT_EQ(info.logins, 1);
  // A second read reuses the token.
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/kubernetes/login"), 1);
}

TEST_F(ClientTest, LoginFailureSaysWhyWithoutTheJwt) {
  const std::string jwt_file = WriteFile("sa-token", "super-secret-jwt");
  fake_->SetJson("POST", "/v1/auth/jwt-mount/login", 400,
                 R"({"errors":["role \"x\" could not be found"]})");
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kJwt;
  config.auth.role = "x";
  config.auth.mount = "jwt-mount";
  config.auth.jwt_file = jwt_file;
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(secret.status().message());
  EXPECT_THAT(message, HasSubstr("jwt login"));
  EXPECT_THAT(message, HasSubstr("could not be found"));
  EXPECT_THAT(message, Not(HasSubstr("super-secret-jwt")));
  EXPECT_EQ(client->token_info().login_failures, 1);
}

TEST_F(ClientTest, AppRoleLogin) {
  const std::string sid = WriteFile("secret-id", "sid-123\n");
  fake_->Handle("POST", "/v1/auth/approle/login", [](const RecordedRequest& r) {
    Reply reply;
    reply.status = absl::StrContains(r.body, R"("secret_id":"sid-123")") &&
                           absl::StrContains(r.body, R"("role_id":"rid")")
                       ? 200
                       : 400;
    reply.body = LoginBody("s.approle", 600, true);
    return reply;
  });
  fake_->RequireToken("s.approle");
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kAppRole;
  config.auth.approle_role_id = "rid";
  config.auth.approle_secret_id_file = sid;
  auto client = Client(config);
  EXPECT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
}

TEST_F(ClientTest, CertLoginSendsTheClientCertificate) {
  fake_->Handle("POST", "/v1/auth/cert/login", [](const RecordedRequest& r) {
    Reply reply;
    reply.status = r.client_cert ? 200 : 400;
    reply.body = r.client_cert ? LoginBody("s.cert", 600, false)
                               : R"({"errors":["client certificate must be supplied"]})";
    return reply;
  });
  fake_->RequireToken("s.cert");
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kCert;
  config.auth.role = "vaultca";
  config.tls.client_cert_file = tls_.client_cert_file;
  config.tls.client_key_file = tls_.client_key_file;
  auto client = Client(config);
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  const auto requests = fake_->requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_TRUE(requests.back().client_cert);
  EXPECT_FALSE(client->token_info().renewable);
}

TEST_F(ClientTest, TokenAuthLearnsTtlFromLookupSelf) {
  fake_->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                 LookupSelfBody(7200, true));
  auto client = Client(Config());
  ASSERT_TRUE(client->Login().ok());
  TokenInfo info = client->token_info();
  EXPECT_EQ(info.ttl, absl::Seconds(7200));
  EXPECT_TRUE(info.renewable);
}

TEST_F(ClientTest, RejectedTokenIsPermissionDeniedWithoutTheToken) {
  fake_->SetJson("GET", "/v1/auth/token/lookup-self", 403,
                 R"({"errors":["permission denied"]})");
  auto client = Client(Config());
  auto secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("VAULT_TOKEN"));
  EXPECT_THAT(std::string(secret.status().message()), Not(HasSubstr(kRootToken)));
}

TEST_F(ClientTest, ReloginOnceOn403ThenSucceeds) {
  const std::string jwt_file = WriteFile("sa-token", "jwt");
  fake_->SetSequence("POST", "/v1/auth/kubernetes/login",
                     {Reply{200, LoginBody("s.first", 3600, true)},
                      Reply{200, LoginBody("s.second", 3600, true)}});
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = jwt_file;
  auto client = Client(config);
  fake_->RequireToken("s.first");
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  // Vault revokes the first token.
  fake_->RequireToken("s.second");
  auto secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/kubernetes/login"), 2);
  EXPECT_EQ(fake_->Count("GET", kKvPath), 3);
}

TEST_F(ClientTest, PersistentDenialReloginsOnceThenFails) {
  const std::string jwt_file = WriteFile("sa-token", "jwt");
  fake_->SetJson("POST", "/v1/auth/kubernetes/login", 200,
                 LoginBody("s.tok", 3600, true));
  fake_->SetJson("GET", kKvPath, 403, R"({"errors":["permission denied"]})");
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = jwt_file;
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("permission denied"));
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/kubernetes/login"), 2);
  EXPECT_EQ(fake_->Count("GET", kKvPath), 2);
}

TEST_F(ClientTest, BackgroundRenewalAtTwoThirdsOfTtl) {
  const std::string jwt_file = WriteFile("sa-token", "jwt");
  fake_->SetJson("POST", "/v1/auth/kubernetes/login", 200,
                 LoginBody("s.short", 3, true));
  std::atomic<int> renewals{0};
  std::string increment;
  Mutex mu;
  fake_->Handle("POST", "/v1/auth/token/renew-self",
                [&](const RecordedRequest& r) {
                  ++renewals;
                  MutexLock lock(&mu);
                  increment = r.body;
                  return Reply{200, LoginBody("s.short", 3, true)};
                });
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = jwt_file;
  auto client = Client(config);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(client->Login().ok());
  while (renewals.load() == 0 && absl::Now() - start < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const absl::Duration took = absl::Now() - start;
  ASSERT_GE(renewals.load(), 1);
  EXPECT_GE(took, absl::Milliseconds(1800));  // 2/3 of 3 s, minus slack.
  EXPECT_LE(took, absl::Seconds(3));
  {
    MutexLock lock(&mu);
    EXPECT_THAT(increment, HasSubstr(R"("increment":"3s")"));
  }
  EXPECT_EQ(client->token_info().logins, 1);
  EXPECT_GE(client->token_info().renewals, 1);
}

TEST_F(ClientTest, FailedRenewalWithDeadTokenLogsInAgain) {
  const std::string jwt_file = WriteFile("sa-token", "jwt");
  fake_->SetJson("POST", "/v1/auth/kubernetes/login", 200,
                 LoginBody("s.short", 2, true));
  fake_->SetJson("POST", "/v1/auth/token/renew-self", 403,
                 R"({"errors":["permission denied"]})");
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = jwt_file;
  auto client = Client(config);
  ASSERT_TRUE(client->Login().ok());
  const absl::Time start = absl::Now();
  while (client->token_info().logins < 2 &&
         absl::Now() - start < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GE(client->token_info().logins, 2);
  EXPECT_GE(client->token_info().renewal_failures, 1);
  MutexLock lock(&warnings_mu_);
  ASSERT_FALSE(warnings_.empty());
  EXPECT_THAT(warnings_[0], HasSubstr("renewal refused"));
  EXPECT_THAT(warnings_[0], Not(HasSubstr("s.short")));
}

TEST_F(ClientTest, LazyRenewalInsideCallsWithoutBackgroundThread) {
  // Lookup-self reports the remaining 3 s of a 30 s token.
  fake_->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                 LookupSelfBody(3, true, 30));
  fake_->SetJson("POST", "/v1/auth/token/renew-self", 200,
                 LoginBody(kRootToken, 30, true));
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  ClientOptions options;
  options.background_renewal = false;
  auto client = Client(Config(), std::move(options));
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  // Real time: the token's remaining TTL must fall under the renewal
  // threshold, and the client reads only the system clock.
  absl::SleepFor(absl::Milliseconds(2200));
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/token/renew-self"), 0);
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/token/renew-self"), 1);
  EXPECT_THAT(fake_->requests()[fake_->requests().size() - 2].body,
              HasSubstr(R"("increment":"30s")"));
  EXPECT_EQ(client->token_info().renewals, 1);
  EXPECT_EQ(client->token_info().ttl, absl::Seconds(30));
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
