// VaultClient against a fake Vault on the wire: KV reads, references, auth
// methods, token lifecycle, health, writes. TLS/retry/redirect behaviour is
// in client_wire_test.cc.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/sync.h"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"
#include "vault/testing/test_pki.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::FakeVault;
using testing::KvV1Body;
using testing::KvV2Body;
using testing::LoginBody;
using testing::RecordedRequest;
using testing::Reply;

constexpr char kKvPath[] = "/v1/secret/data/pki/istiod";
constexpr char kRootToken[] = "s.root-token-value";

std::string LookupSelfBody(int ttl, bool renewable) {
  return absl::StrCat(R"({"data":{"ttl":)", ttl, R"(,"renewable":)",
                      renewable ? "true" : "false",
                      R"(,"policies":["root"],"type":"service"}})");
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TestTls> tls = testing::MakeTestTls();
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);
    FakeVault::Options options;
    options.cert_pem = tls_.server.cert_pem;
    options.key_pem = tls_.server.key_pem;
    options.client_ca_pem = tls_.ca->cert_pem();
    absl::StatusOr<std::unique_ptr<FakeVault>> fake = FakeVault::Start(options);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    fake_->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                   LookupSelfBody(0, false));
  }

  VaultConfig Config() const {
    VaultConfig config;
    config.address = fake_->address();
    config.tls.ca_cert_file = tls_.ca_file;
    config.auth.token = SecretData(kRootToken);
    config.timeout = absl::Seconds(10);
    config.retry_base_backoff = absl::Milliseconds(1);
    config.retry_max_backoff = absl::Milliseconds(5);
    return config;
  }

  std::unique_ptr<VaultClient> Client(const VaultConfig& config,
                                      ClientOptions options = ClientOptions()) {
    options.warn = [this](absl::string_view w) {
      MutexLock lock(&warnings_mu_);
      warnings_.push_back(std::string(w));
    };
    absl::StatusOr<std::unique_ptr<VaultClient>> client =
        VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    return *testing::WriteFile(tls_.dir, name, content);
  }

  testing::TestTls tls_;
  std::unique_ptr<FakeVault> fake_;
  Mutex warnings_mu_;
  std::vector<std::string> warnings_ ABSL_GUARDED_BY(warnings_mu_);
};

TEST_F(ClientTest, ReadsKvV2WithVaultHeaders) {
  fake_->SetJson("GET", kKvPath, 200,
                 KvV2Body(R"({"certificate":"CERT","privateKey":"KEY"})", 3));
  VaultConfig config = Config();
  config.vault_namespace = "team-a/";
  auto client = Client(config);
  absl::StatusOr<KvSecret> secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_TRUE(secret->v2);
  EXPECT_EQ(secret->version, 3);
  EXPECT_EQ(secret->Get("privateKey")->view(), "KEY");

  const std::vector<RecordedRequest> requests = fake_->requests();
  ASSERT_FALSE(requests.empty());
  const RecordedRequest& read = requests.back();
  EXPECT_EQ(read.path, kKvPath);
  EXPECT_EQ(read.Header("x-vault-token"), kRootToken);
  EXPECT_EQ(read.Header("x-vault-request"), "true");
  EXPECT_EQ(read.Header("x-vault-namespace"), "team-a/");
  EXPECT_TRUE(read.params.empty());
}

TEST_F(ClientTest, ReadsAVersion) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest& r) {
    Reply reply;
    auto it = r.params.find("version");
    const int v = it == r.params.end() ? 9 : std::stoi(it->second);
    reply.body = KvV2Body(absl::StrCat(R"({"k":"v)", v, R"("})"), v);
    return reply;
  });
  auto client = Client(Config());
  auto secret = client->ReadKv("secret/data/pki/istiod", 2);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->version, 2);
  EXPECT_EQ(secret->Get("k")->view(), "v2");
  EXPECT_EQ(client->ReadKv("/v1/secret/data/pki/istiod")->version, 9);
}

TEST_F(ClientTest, ReadsKvV1) {
  fake_->SetJson("GET", "/v1/kv1/pki/istiod", 200,
                 KvV1Body(R"({"certificate":"C1"})"));
  auto client = Client(Config());
  auto secret = client->ReadKv("kv1/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_FALSE(secret->v2);
  EXPECT_EQ(secret->Get("certificate")->view(), "C1");
}

TEST_F(ClientTest, ReferencesShareOneRequestPerPathAndVersion) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest& r) {
    Reply reply;
    const bool v1 = r.params.count("version") && r.params.at("version") == "1";
    reply.body = KvV2Body(v1 ? R"({"certificate":"OLD","privateKey":"OLDKEY"})"
                             : R"({"certificate":"NEW","privateKey":"NEWKEY"})",
                          v1 ? 1 : 2);
    return reply;
  });
  auto client = Client(Config());
  std::vector<Reference> refs = {
      *ParseReference("vault:secret/data/pki/istiod#certificate"),
      *ParseReference("vault:secret/data/pki/istiod#privateKey"),
      *ParseReference("vault:secret/data/pki/istiod#certificate#1"),
  };
  auto values = client->ReadReferences(refs);
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0].view(), "NEW");
  EXPECT_EQ((*values)[1].view(), "NEWKEY");
  EXPECT_EQ((*values)[2].view(), "OLD");
  EXPECT_EQ(fake_->Count("GET", kKvPath), 2);

  EXPECT_EQ(client->ReadReference(refs[1])->view(), "NEWKEY");
}

TEST_F(ClientTest, ReferenceErrorsNameTheReference) {
  fake_->SetJson("GET", kKvPath, 200,
                 KvV2Body(R"({"certificate":"C","serial":42})", 1));
  auto client = Client(Config());
  auto missing = client->ReadReferences(
      {*ParseReference("vault:secret/data/pki/istiod#privateKey")});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("vault:secret/data/pki/istiod#privateKey: key "
                        "'privateKey' not found under path"));
  auto not_string = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#serial"));
  EXPECT_EQ(not_string.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_path = client->ReadReference(*ParseReference("vault:secret/data/none#k"));
  EXPECT_EQ(no_path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(no_path.status().message()), HasSubstr("path not found"));
}

TEST_F(ClientTest, DeletedAndDestroyedVersionsOverTheWire) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest& r) {
    Reply reply;
    reply.status = 404;
    const bool destroyed = r.params.at("version") == "2";
    reply.body = absl::StrCat(
        R"({"data":{"data":null,"metadata":{"created_time":"t","deletion_time":")",
        destroyed ? "" : "2024-05-01T10:00:00Z", R"(","destroyed":)",
        destroyed ? "true" : "false", R"(,"version":)", r.params.at("version"),
        "}}}");
    return reply;
  });
  auto client = Client(Config());
  auto deleted = client->ReadKv("secret/data/pki/istiod", 1);
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(deleted.status().message()),
              HasSubstr("version 1 of secret/data/pki/istiod was deleted at "
                        "2024-05-01T10:00:00Z"));
  auto destroyed = client->ReadKv("secret/data/pki/istiod", 2);
  EXPECT_THAT(std::string(destroyed.status().message()),
              HasSubstr("version 2 of secret/data/pki/istiod was destroyed"));
}

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
  fake_->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                 LookupSelfBody(3, true));
  fake_->SetJson("POST", "/v1/auth/token/renew-self", 200,
                 LoginBody(kRootToken, 3, true));
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  ClientOptions options;
  options.background_renewal = false;
  auto client = Client(Config(), std::move(options));
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  absl::SleepFor(absl::Milliseconds(2200));
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/token/renew-self"), 0);
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  EXPECT_EQ(fake_->Count("POST", "/v1/auth/token/renew-self"), 1);
  EXPECT_EQ(client->token_info().renewals, 1);
}

TEST_F(ClientTest, HealthMapsEveryDefinedStatusWithoutTokenOrRetry) {
  const std::pair<int, HealthState> cases[] = {
      {200, HealthState::kActive},
      {429, HealthState::kStandby},
      {472, HealthState::kDrSecondary},
      {473, HealthState::kPerformanceStandby},
      {501, HealthState::kUninitialized},
      {503, HealthState::kSealed}};
  auto client = Client(Config());
  for (const auto& [status, state] : cases) {
    fake_->ClearRequests();
    fake_->SetJson("GET", "/v1/sys/health", status,
                   absl::StrCat(R"({"initialized":true,"sealed":)",
                                status == 503 ? "true" : "false",
                                R"(,"standby":false,"version":"1.14.8","cluster_name":"c"})"));
    auto report = client->Health();
    ASSERT_TRUE(report.ok()) << status << ": " << report.status();
    EXPECT_EQ(report->state, state) << status;
    EXPECT_EQ(report->http_status, status);
    EXPECT_EQ(report->version, "1.14.8");
    EXPECT_EQ(report->sealed, status == 503);
    EXPECT_EQ(fake_->Count("GET", "/v1/sys/health"), 1) << status;
    EXPECT_EQ(fake_->requests().back().Header("x-vault-token"), "");
  }
  fake_->SetJson("GET", "/v1/sys/health", 503, "{}");
  EXPECT_EQ(client->Health()->ToStatus().code(), absl::StatusCode::kUnavailable);
  fake_->SetJson("GET", "/v1/sys/health", 501, "{}");
  EXPECT_EQ(client->Health()->ToStatus().code(),
            absl::StatusCode::kFailedPrecondition);
  fake_->SetJson("GET", "/v1/sys/health", 418, "{}");
  EXPECT_FALSE(client->Health().ok());
}

TEST_F(ClientTest, WritePostsJsonAndReturnsBody) {
  fake_->Handle("POST", "/v1/pki/sign/istio", [](const RecordedRequest& r) {
    Reply reply;
    reply.body = absl::StrCat(R"({"data":{"echo":)", r.body, "}}");
    return reply;
  });
  fake_->SetJson("POST", "/v1/secret/data/x", 204, "");
  auto client = Client(Config());
  auto out = client->Write("pki/sign/istio", R"({"csr":"PEM","ttl":"3600s"})");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(std::string(out->view()), HasSubstr(R"("csr":"PEM")"));
  EXPECT_EQ(fake_->requests().back().Header("content-type"), "application/json");
  auto empty = client->Write("secret/data/x", R"({"data":{}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  fake_->SetJson("POST", "/v1/pki/sign/istio", 400,
                 R"({"errors":["common name not allowed"]})");
  auto bad = client->Write("pki/sign/istio", "{}");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("common name not allowed"));
  fake_->SetJson("DELETE", "/v1/secret/data/x", 204, "");
  EXPECT_TRUE(client->Delete("secret/data/x").ok());
}

TEST_F(ClientTest, PathsAreEscaped) {
  auto client = Client(Config());
  fake_->SetJson("GET", "/v1/secret/data/a%3Fb", 200, KvV2Body(R"({"k":"v"})", 1));
  auto secret = client->ReadKv("secret/data/a?b");
  // Whatever the server decodes, the '?' did not become a query.
  EXPECT_TRUE(fake_->requests().back().params.empty());
  (void)secret;
}

TEST_F(ClientTest, ConcurrentReadsShareTheClient) {
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  auto client = Client(Config());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (client->ReadKv("secret/data/pki/istiod").ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 120);
  EXPECT_EQ(client->token_info().logins, 1);
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
