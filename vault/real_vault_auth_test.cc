// VaultClient's auth methods against a real HashiCorp Vault
// (VAULTCA_VAULT_BIN): approle, cert, jwt with a service-account-style JWT,
// kubernetes through a TokenReview endpoint served by the test, and
// re-login past a token's max TTL.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/real_vault_fixture.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"
#include "testing/tls.h"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using testkit::RealVaultTest;
using testkit::Trim;

#define ASSERT_OK VAULTCA_ASSERT_OK

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
      *testkit::WriteFileIn(tls_->dir, "secret-id", *secret_id);
  auto client = Client(config);
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#privateKey"));
  ASSERT_TRUE(value.ok()) << value.status();
  TokenInfo info = client->token_info();
  EXPECT_EQ(info.ttl, absl::Hours(1));
  EXPECT_TRUE(info.renewable);

  config.auth.approle_secret_id_file =
      *testkit::WriteFileIn(tls_->dir, "bad-secret-id", "not-a-secret-id");
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
  const testkit::TestJwtKey signer;
  const std::string pubkey =
      *testkit::WriteFileIn(tls_->dir, "jwt-pub.pem", testkit::PublicKeyPem(signer));
  ASSERT_OK(vault_->Cli({"auth", "enable", "jwt"}));
  ASSERT_OK(vault_->Cli({"write", "auth/jwt/config",
                         "jwt_validation_pubkeys=@" + pubkey}));
  ASSERT_OK(vault_->Cli({"write", "auth/jwt/role/istiod", "role_type=jwt",
                         "bound_audiences=vault", "user_claim=sub",
                         "bound_subject=system:serviceaccount:istio-system:istiod",
                         "token_policies=allow_istiod_secrets", "token_ttl=1h"}));
  const std::string jwt = testkit::SignJwt(
      signer, testkit::ServiceAccountClaims("istio-system", "istiod", "vault"));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kJwt;
  config.auth.role = "istiod";
  config.auth.jwt_file = *testkit::WriteFileIn(tls_->dir, "sa.jwt", jwt);
  auto client = Client(config);
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(value.ok()) << value.status();

  // A token for another service account is refused.
  const std::string wrong = testkit::SignJwt(
      signer, testkit::ServiceAccountClaims("default", "intruder", "vault"));
  config.auth.jwt_file = *testkit::WriteFileIn(tls_->dir, "wrong.jwt", wrong);
  auto denied = Client(config)->ReadKv("secret/data/pki/istiod");
  EXPECT_FALSE(denied.ok());
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("jwt login"));
  EXPECT_THAT(std::string(denied.status().message()),
              ::testing::Not(HasSubstr(wrong)));
}

TEST_F(RealVaultTest, KubernetesLoginThroughATokenReviewServedByTheTest) {
  const testkit::TestJwtKey signer;
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
  const std::string reviewer = testkit::SignJwt(
      signer,
      testkit::ServiceAccountClaims("kube-system", "vault-reviewer", "vault"));
  ASSERT_OK(vault_->Cli({"auth", "enable", "kubernetes"}));
  ASSERT_OK(vault_->Cli({"write", "auth/kubernetes/config",
                         "kubernetes_host=" + (*apiserver)->address(),
                         "kubernetes_ca_cert=@" + tls_->ca_file,
                         "token_reviewer_jwt=" + reviewer,
                         "disable_local_ca_jwt=true"}));
  ASSERT_OK(vault_->Cli({"write", "auth/kubernetes/role/istiod",
                         "bound_service_account_names=istiod",
                         "bound_service_account_namespaces=istio-system",
                         "token_policies=allow_istiod_secrets", "token_ttl=1h"}));
  const std::string jwt = testkit::SignJwt(
      signer, testkit::ServiceAccountClaims("istio-system", "istiod", "vault"));
  VaultConfig config = Config();
  config.auth = AuthConfig();
  config.auth.method = AuthMethod::kKubernetes;
  config.auth.role = "istiod";
  config.auth.jwt_file = *testkit::WriteFileIn(tls_->dir, "k8s.jwt", jwt);
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
  EXPECT_EQ(reviews.back().Header("authorization"), "Bearer " + reviewer);
  EXPECT_THAT(reviews.back().body, HasSubstr(jwt));
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
  // Real time: the real Vault must expire the short AppRole token.
  absl::SleepFor(absl::Seconds(9));
  auto later = client->ReadKv("secret/data/pki/istiod");
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_GE(client->token_info().logins, 2);
}

// Last in the suite: seals the shared server and unseals it again.
}  // namespace
}  // namespace vault
}  // namespace vaultca
