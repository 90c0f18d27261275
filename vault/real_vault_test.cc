// VaultClient against a real HashiCorp Vault (VAULTCA_VAULT_BIN) started by
// the test: TLS with test-time PKI, every auth method, KV v1/v2 lifecycle,
// the seed's policy, namespaces, token renewal/expiry, seal/unseal.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"
#include "vault/testing/real_vault.h"
#include "vault/testing/test_jwt.h"
#include "vault/testing/test_pki.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using testing::RealVault;

constexpr char kPolicy[] = R"(path "secret/data/pki/istiod" {
  capabilities = ["read", "list"]
}
)";

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    const auto& _st = (expr);                                 \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.status();   \
  } while (0)

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

class RealVaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> binary = testing::VaultBinary();
    if (!binary.ok()) {
      setup_error_ = new std::string(binary.status().message());
      return;
    }
    auto tls = testing::MakeTestTls();
    if (!tls.ok()) {
      setup_error_ = new std::string(tls.status().ToString());
      return;
    }
    tls_ = new testing::TestTls(*std::move(tls));
    auto vault = RealVault::Start(*binary, *tls_);
    if (!vault.ok()) {
      setup_error_ = new std::string(vault.status().ToString());
      return;
    }
    vault_ = vault->release();
    absl::Status configured = Configure();
    if (!configured.ok()) setup_error_ = new std::string(configured.ToString());
  }

  static void TearDownTestSuite() {
    delete vault_;
    vault_ = nullptr;
    delete tls_;
    tls_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  // Mounts and material shared by the tests, like the seed's setup.
  static absl::Status Configure() {
    const std::string cert = testing::WriteFile(tls_->dir, "vault-ca.crt",
                                                "-----CERT-----\n").value();
    const std::string key = testing::WriteFile(tls_->dir, "vault-ca.key",
                                               "-----KEY-----\n").value();
    const std::string policy =
        testing::WriteFile(tls_->dir, "policy.hcl", kPolicy).value();
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=secret", "-version=2", "kv"},
             {"secrets", "enable", "-path=kv1", "-version=1", "kv"},
             {"kv", "put", "secret/pki/istiod", "privateKey=@" + key,
              "certificate=@" + cert},
             {"kv", "put", "secret/other", "x=y"},
             {"kv", "put", "kv1/pki/istiod", "certificate=v1cert"},
             {"policy", "write", "allow_istiod_secrets", policy}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) return out.status();
    }
    return absl::OkStatus();
  }

  void SetUp() override {
    if (setup_error_ != nullptr) {
      if (testing::MissingVaultAllowed() &&
          absl::StrContains(*setup_error_, "VAULTCA_VAULT_BIN")) {
        GTEST_SKIP() << *setup_error_;
      }
      FAIL() << *setup_error_;
    }
  }

  VaultConfig Config(const std::string& token = "") const {
    VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token = SecretData(token.empty() ? vault_->root_token() : token);
    config.timeout = absl::Seconds(20);
    config.retry_base_backoff = absl::Milliseconds(50);
    config.retry_max_backoff = absl::Milliseconds(200);
    return config;
  }

  std::unique_ptr<VaultClient> Client(const VaultConfig& config) const {
    ClientOptions options;
    options.warn = [](absl::string_view) {};
    auto client = VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Creates a token with the seed's policy and `extra` flags.
  std::string PolicyToken(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"token", "create", "-field=token",
                                     "-policy=allow_istiod_secrets"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::string> token = vault_->Cli(args);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? Trim(*token) : "";
  }

  static std::string* setup_error_;
  static testing::TestTls* tls_;
  static RealVault* vault_;
};

std::string* RealVaultTest::setup_error_ = nullptr;
testing::TestTls* RealVaultTest::tls_ = nullptr;
RealVault* RealVaultTest::vault_ = nullptr;

TEST_F(RealVaultTest, HealthIsActive) {
  auto client = Client(Config());
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->state, HealthState::kActive);
  EXPECT_TRUE(health->initialized);
  EXPECT_FALSE(health->sealed);
  EXPECT_THAT(health->version, HasSubstr("1.14"));
}

TEST_F(RealVaultTest, TokenAuthReadsTheSeedReferences) {
  auto client = Client(Config());
  auto values = client->ReadReferences(
      {*ParseReference("vault:secret/data/pki/istiod#certificate"),
       *ParseReference("vault:secret/data/pki/istiod#privateKey")});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(Trim(std::string((*values)[0].view())), "-----CERT-----");
  EXPECT_EQ(Trim(std::string((*values)[1].view())), "-----KEY-----");
  EXPECT_EQ(client->token_info().ttl, absl::ZeroDuration());  // Root.
}

TEST_F(RealVaultTest, KvV1) {
  auto client = Client(Config());
  auto secret = client->ReadKv("kv1/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_FALSE(secret->v2);
  EXPECT_EQ(secret->Get("certificate")->view(), "v1cert");
  auto missing = client->ReadKv("kv1/none");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("path not found"));
}

TEST_F(RealVaultTest, KvV2VersionsDeleteDestroyUndelete) {
  ASSERT_OK(vault_->Cli({"kv", "put", "secret/lifecycle", "k=one"}));
  ASSERT_OK(vault_->Cli({"kv", "put", "secret/lifecycle", "k=two"}));
  ASSERT_OK(vault_->Cli({"kv", "put", "secret/lifecycle", "k=three"}));
  auto client = Client(Config());
  auto latest = client->ReadKv("secret/data/lifecycle");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_TRUE(latest->v2);
  EXPECT_EQ(latest->version, 3);
  EXPECT_EQ(latest->Get("k")->view(), "three");
  EXPECT_EQ(client->ReadKv("secret/data/lifecycle", 1)->Get("k")->view(), "one");

  ASSERT_OK(vault_->Cli({"kv", "delete", "-versions=1", "secret/lifecycle"}));
  auto deleted = client->ReadKv("secret/data/lifecycle", 1);
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(deleted.status().message()),
              HasSubstr("version 1 of secret/data/lifecycle was deleted at"));

  ASSERT_OK(vault_->Cli({"kv", "destroy", "-versions=2", "secret/lifecycle"}));
  auto destroyed = client->ReadKv("secret/data/lifecycle", 2);
  EXPECT_EQ(destroyed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(destroyed.status().message()),
              HasSubstr("version 2 of secret/data/lifecycle was destroyed"));

  ASSERT_OK(vault_->Cli({"kv", "undelete", "-versions=1", "secret/lifecycle"}));
  auto back = client->ReadKv("secret/data/lifecycle", 1);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Get("k")->view(), "one");

  auto missing_version = client->ReadKv("secret/data/lifecycle", 99);
  EXPECT_EQ(missing_version.status().code(), absl::StatusCode::kNotFound);
  auto missing = client->ReadKv("secret/data/never-written");
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("path not found"));
}

TEST_F(RealVaultTest, SeedPolicyAllowsTheReadAndDeniesEverythingElse) {
  const std::string token = PolicyToken();
  auto client = Client(Config(token));
  auto allowed = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(allowed.ok()) << allowed.status();

  auto other = client->ReadKv("secret/data/other");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("permission denied"));
  EXPECT_THAT(std::string(other.status().message()), ::testing::Not(HasSubstr(token)));
  auto old_version_meta = client->Read("secret/metadata/pki/istiod");
  EXPECT_EQ(old_version_meta.status().code(), absl::StatusCode::kPermissionDenied);
  auto write = client->Write("secret/data/pki/istiod", R"({"data":{"x":"y"}})");
  EXPECT_EQ(write.status().code(), absl::StatusCode::kPermissionDenied);
  auto v1 = client->ReadKv("kv1/pki/istiod");
  EXPECT_EQ(v1.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(RealVaultTest, AppRoleLogin) {
  ASSERT_OK(vault_->Cli({"auth", "enable", "approle"}));
  ASSERT_OK(vault_->Cli({"write", "auth/approle/role/vaultca",
                         "token_policies=allow_istiod_secrets", "token_ttl=1h"}));
  auto role_id = vault_->Cli({"read", "-field=role_id", "auth/approle/role/vaultca/role-id"});
  ASSERT_OK(role_id);
  auto secret_id = vault_->Cli(
      {"write", "-f", "-field=secret_id", "auth/approle/role/vaultca/secret-id"});
  ASSERT_OK(secret_id);
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kAppRole;
  config.auth.approle_role_id = Trim(*role_id);
  config.auth.approle_secret_id_file =
      *testing::WriteFile(tls_->dir, "secret-id", *secret_id);
  auto client = Client(config);
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#privateKey"));
  ASSERT_TRUE(value.ok()) << value.status();
  TokenInfo info = client->token_info();
  EXPECT_EQ(info.ttl, absl::Hours(1));
  EXPECT_TRUE(info.renewable);

  config.auth.approle_secret_id_file =
      *testing::WriteFile(tls_->dir, "bad-secret-id", "not-a-secret-id");
  auto bad = Client(config)->ReadKv("secret/data/pki/istiod");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("approle login"));
}

TEST_F(RealVaultTest, CertLogin) {
  ASSERT_OK(vault_->Cli({"auth", "enable", "cert"}));
  ASSERT_OK(vault_->Cli({"write", "auth/cert/certs/vaultca", "display_name=vaultca",
                         "policies=allow_istiod_secrets", "ttl=1h",
                         "certificate=@" + tls_->ca_file}));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kCert;
  config.auth.role = "vaultca";
  config.tls.client_cert_file = tls_->client_cert_file;
  config.tls.client_key_file = tls_->client_key_file;
  auto client = Client(config);
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(client->token_info().logins, 1);

  // Without a client certificate the login is refused.
  VaultConfig no_cert = config;
  no_cert.tls.client_cert_file.clear();
  no_cert.tls.client_key_file.clear();
  auto client_cert_missing = VaultClient::New(no_cert);
  EXPECT_FALSE(client_cert_missing.ok());  // Config check: cert auth needs one.
}

TEST_F(RealVaultTest, JwtLoginWithServiceAccountStyleToken) {
  auto signer = testing::TestJwtSigner::Create();
  ASSERT_OK(signer);
  const std::string pubkey =
      *testing::WriteFile(tls_->dir, "jwt-pub.pem", (*signer)->public_key_pem());
  ASSERT_OK(vault_->Cli({"auth", "enable", "jwt"}));
  ASSERT_OK(vault_->Cli({"write", "auth/jwt/config",
                         "jwt_validation_pubkeys=@" + pubkey}));
  ASSERT_OK(vault_->Cli({"write", "auth/jwt/role/istiod", "role_type=jwt",
                         "bound_audiences=vault", "user_claim=sub",
                         "bound_subject=system:serviceaccount:istio-system:istiod",
                         "token_policies=allow_istiod_secrets", "token_ttl=1h"}));
  auto jwt = (*signer)->Sign(
      testing::ServiceAccountClaims("istio-system", "istiod", "vault"));
  ASSERT_OK(jwt);
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kJwt;
  config.auth.role = "istiod";
  config.auth.jwt_file = *testing::WriteFile(tls_->dir, "sa.jwt", *jwt);
  auto client = Client(config);
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(value.ok()) << value.status();

  // A token for another service account is refused.
  auto wrong = (*signer)->Sign(
      testing::ServiceAccountClaims("default", "intruder", "vault"));
  config.auth.jwt_file = *testing::WriteFile(tls_->dir, "wrong.jwt", *wrong);
  auto denied = Client(config)->ReadKv("secret/data/pki/istiod");
  EXPECT_FALSE(denied.ok());
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("jwt login"));
  EXPECT_THAT(std::string(denied.status().message()),
              ::testing::Not(HasSubstr(*wrong)));
}

TEST_F(RealVaultTest, KubernetesLoginThroughATokenReviewServedByTheTest) {
  auto signer = testing::TestJwtSigner::Create();
  ASSERT_OK(signer);
  testing::FakeVault::Options options;
  options.cert_pem = tls_->server.cert_pem;
  options.key_pem = tls_->server.key_pem;
  auto apiserver = testing::FakeVault::Start(options);
  ASSERT_OK(apiserver);
  (*apiserver)->Handle(
      "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
      [](const testing::RecordedRequest& r) {
        // Like kube-apiserver: authenticate the token, echo the audiences.
        testing::Reply reply;
        reply.status = 201;
        nlohmann::json review = nlohmann::json::parse(r.body, nullptr, false);
        const bool ok = !review.is_discarded() && review.contains("spec") &&
                        review["spec"].is_object() &&
                        review["spec"].contains("token") &&
                        review["spec"]["token"].is_string();
        std::string audiences = "[]";
        if (ok && review["spec"].contains("audiences")) {
          audiences = review["spec"]["audiences"].dump();
        }
        reply.body = absl::StrCat(
            R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",)",
            R"("status":{"authenticated":)", ok ? "true" : "false",
            R"(,"user":{"username":"system:serviceaccount:istio-system:istiod",)",
            R"("uid":"11111111-2222-3333-4444-555555555555",)",
            R"("groups":["system:serviceaccounts","system:serviceaccounts:istio-system"]},)",
            R"("audiences":)", audiences, "}}");
        return reply;
      });
  auto reviewer = (*signer)->Sign(
      testing::ServiceAccountClaims("kube-system", "vault-reviewer", "vault"));
  ASSERT_OK(reviewer);
  ASSERT_OK(vault_->Cli({"auth", "enable", "kubernetes"}));
  ASSERT_OK(vault_->Cli({"write", "auth/kubernetes/config",
                         "kubernetes_host=" + (*apiserver)->address(),
                         "kubernetes_ca_cert=@" + tls_->ca_file,
                         "token_reviewer_jwt=" + *reviewer,
                         "disable_local_ca_jwt=true"}));
  ASSERT_OK(vault_->Cli({"write", "auth/kubernetes/role/istiod",
                         "bound_service_account_names=istiod",
                         "bound_service_account_namespaces=istio-system",
                         "token_policies=allow_istiod_secrets", "token_ttl=1h"}));
  auto jwt = (*signer)->Sign(
      testing::ServiceAccountClaims("istio-system", "istiod", "vault"));
  ASSERT_OK(jwt);
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = *testing::WriteFile(tls_->dir, "k8s.jwt", *jwt);
  auto client = Client(config);
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#privateKey"));
  ASSERT_TRUE(value.ok()) << value.status() << "\nTokenReview requests: "
                          << (*apiserver)->requests().size() << "\nVault log:\n"
                          << vault_->Log().substr(vault_->Log().size() > 3000
                                                      ? vault_->Log().size() - 3000
                                                      : 0);
  const auto reviews = (*apiserver)->requests();
  ASSERT_FALSE(reviews.empty());
  EXPECT_EQ(reviews.back().Header("authorization"), "Bearer " + *reviewer);
  EXPECT_THAT(reviews.back().body, HasSubstr(*jwt));
}

TEST_F(RealVaultTest, NamespacesAreUnsupportedOnOss) {
  // Vault OSS has no namespaces. Record what a namespaced client sees.
  VaultConfig config = Config();
  config.vault_namespace = "team-a";
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/pki/istiod");
  RecordProperty("oss_namespace_result", secret.status().ToString());
  if (secret.ok()) {
    // OSS ignores X-Vault-Namespace and serves the root namespace.
    EXPECT_EQ(secret->Get("certificate").ok(), true);
  } else {
    EXPECT_EQ(secret.status().code(), absl::StatusCode::kNotFound)
        << secret.status();
  }
  std::cerr << "X-Vault-Namespace on Vault OSS: " << secret.status() << "\n";
}

TEST_F(RealVaultTest, ShortLivedTokenIsRenewedInTheBackground) {
  const std::string token = PolicyToken({"-ttl=6s", "-explicit-max-ttl=5m"});
  auto client = Client(Config(token));
  ASSERT_TRUE(client->Login().ok());
  EXPECT_EQ(client->token_info().ttl, absl::Seconds(6));
  absl::SleepFor(absl::Seconds(9));
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_GE(client->token_info().renewals, 2);
}

TEST_F(RealVaultTest, NonRenewableFixedTokenExpires) {
  const std::string token = PolicyToken({"-ttl=3s", "-renewable=false"});
  auto client = Client(Config(token));
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  absl::SleepFor(absl::Seconds(4));
  auto expired = client->ReadKv("secret/data/pki/istiod");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kPermissionDenied)
      << expired.status();
}

TEST_F(RealVaultTest, AppRoleTokenPastMaxTtlIsReplacedByReLogin) {
  ASSERT_OK(vault_->Cli({"auth", "enable", "-path=approle-short", "approle"}));
  ASSERT_OK(vault_->Cli({"write", "auth/approle-short/role/r",
                         "token_policies=allow_istiod_secrets", "token_ttl=3s",
                         "token_max_ttl=5s"}));
  auto role_id = vault_->Cli({"read", "-field=role_id", "auth/approle-short/role/r/role-id"});
  auto secret_id = vault_->Cli(
      {"write", "-f", "-field=secret_id", "auth/approle-short/role/r/secret-id"});
  ASSERT_OK(role_id);
  ASSERT_OK(secret_id);
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kAppRole;
  config.auth.mount = "approle-short";
  config.auth.approle_role_id = Trim(*role_id);
  config.auth.approle_secret_id = SecretData(Trim(*secret_id));
  auto client = Client(config);
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  absl::SleepFor(absl::Seconds(9));
  auto later = client->ReadKv("secret/data/pki/istiod");
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_GE(client->token_info().logins, 2);
}

// Last in the suite: seals the shared server and unseals it again.
TEST_F(RealVaultTest, ZSealedVaultIsUnavailableUntilUnsealed) {
  auto client = Client(Config());
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  ASSERT_OK(vault_->Cli({"operator", "seal"}));
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->state, HealthState::kSealed);
  EXPECT_EQ(health->ToStatus().code(), absl::StatusCode::kUnavailable);
  auto sealed = client->ReadKv("secret/data/pki/istiod");
  EXPECT_EQ(sealed.status().code(), absl::StatusCode::kUnavailable) << sealed.status();
  EXPECT_THAT(std::string(sealed.status().message()), HasSubstr("sealed"));

  ASSERT_OK(vault_->Cli({"operator", "unseal", vault_->unseal_key()}));
  absl::StatusOr<KvSecret> back;
  for (int i = 0; i < 100; ++i) {
    back = client->ReadKv("secret/data/pki/istiod");
    if (back.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(back.ok()) << back.status();
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
