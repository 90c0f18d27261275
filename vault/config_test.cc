#include "vault/config.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/internal/url.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigTest, DefaultsWithToken) {
  absl::StatusOr<VaultConfig> c = ConfigFromEnvironment(Env({{"VAULT_TOKEN", "s.x"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "https://127.0.0.1:8200");
  EXPECT_EQ(c->auth.method, AuthMethod::kToken);
  EXPECT_EQ(c->auth.token.view(), "s.x");
  EXPECT_EQ(c->timeout, absl::Seconds(60));
  EXPECT_EQ(c->max_retries, 2);
  EXPECT_FALSE(c->tls.skip_verify);
}

TEST(ConfigTest, ReadsEveryVariable) {
  absl::StatusOr<VaultConfig> c = ConfigFromEnvironment(Env({
      {"VAULT_ADDR", "https://vault.default:8200"},
      {"VAULT_NAMESPACE", "team/a"},
      {"VAULT_CACERT", "/vault/tls/ca.crt"},
      {"VAULT_CAPATH", "/etc/ssl/certs"},
      {"VAULT_CLIENT_CERT", "/c.pem"},
      {"VAULT_CLIENT_KEY", "/k.pem"},
      {"VAULT_TLS_SERVER_NAME", "vault.internal"},
      {"VAULT_SKIP_VERIFY", "false"},
      {"VAULT_CLIENT_TIMEOUT", "1m30s"},
      {"VAULT_MAX_RETRIES", "5"},
      {"VAULT_ROLE", "istiod"},
      {"VAULT_PATH", "k8s-prod"},
      {"VAULT_JWT_FILE", "/jwt"},
  }));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "https://vault.default:8200");
  EXPECT_EQ(c->vault_namespace, "team/a");
  EXPECT_EQ(c->tls.ca_cert_file, "/vault/tls/ca.crt");
  EXPECT_EQ(c->tls.ca_path, "/etc/ssl/certs");
  EXPECT_EQ(c->tls.client_cert_file, "/c.pem");
  EXPECT_EQ(c->tls.client_key_file, "/k.pem");
  EXPECT_EQ(c->tls.server_name, "vault.internal");
  EXPECT_EQ(c->timeout, absl::Seconds(90));
  EXPECT_EQ(c->max_retries, 5);
  EXPECT_EQ(c->auth.method, AuthMethod::kKubernetes);
  EXPECT_EQ(c->auth.role, "istiod");
  EXPECT_EQ(EffectiveAuthMount(c->auth), "k8s-prod");
  EXPECT_EQ(c->auth.jwt_file, "/jwt");
}

TEST(ConfigTest, TimeoutAsPlainSeconds) {
  auto c = ConfigFromEnvironment(
      Env({{"VAULT_TOKEN", "t"}, {"VAULT_CLIENT_TIMEOUT", "5"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->timeout, absl::Seconds(5));
}

TEST(ConfigTest, KubernetesServiceAccountTokenFallback) {
  auto c = ConfigFromEnvironment(Env({{"VAULT_ROLE", "r"},
                                      {"KUBERNETES_SERVICE_ACCOUNT_TOKEN", "/sa"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth.jwt_file, "/sa");
  EXPECT_EQ(EffectiveAuthMount(c->auth), "kubernetes");
}

TEST(ConfigTest, DefaultJwtFileIsServiceAccountToken) {
  auto c = ConfigFromEnvironment(Env({{"VAULT_ROLE", "r"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth.jwt_file,
            "/var/run/secrets/kubernetes.io/serviceaccount/token");
}

TEST(ConfigTest, ExplicitMethodWins) {
  auto c = ConfigFromEnvironment(Env({{"VAULT_AUTH_METHOD", "JWT"},
                                      {"VAULT_TOKEN", "t"},
                                      {"VAULT_ROLE", "r"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth.method, AuthMethod::kJwt);
  EXPECT_EQ(EffectiveAuthMount(c->auth), "jwt");
}

TEST(ConfigTest, AppRole) {
  auto c = ConfigFromEnvironment(
      Env({{"VAULT_AUTH_METHOD", "approle"},
           {"VAULT_APPROLE_ROLE_ID", "rid"},
           {"VAULT_APPROLE_SECRET_ID_FILE", "/sid"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth.approle_role_id, "rid");
  EXPECT_EQ(c->auth.approle_secret_id_file, "/sid");
  EXPECT_EQ(EffectiveAuthMount(c->auth), "approle");
}

TEST(ConfigTest, TokenFromHomeWhenNothingElse) {
  auto c = ConfigFromEnvironment(Env({{"HOME", "/home/me"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth.method, AuthMethod::kToken);
  EXPECT_EQ(c->auth.token_file, "/home/me/.vault-token");
}

TEST(ConfigTest, NoCredentialsAtAll) {
  auto c = ConfigFromEnvironment(Env({}));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("VAULT_TOKEN"));
}

TEST(ConfigTest, PlainHttpRefusedUnlessAllowedInCode) {
  auto refused = ConfigFromEnvironment(
      Env({{"VAULT_ADDR", "http://127.0.0.1:8200"}, {"VAULT_TOKEN", "t"}}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("plain http"));

  VaultConfig base;
  base.allow_plaintext_http = true;
  auto allowed = ConfigFromEnvironment(
      Env({{"VAULT_ADDR", "http://127.0.0.1:8200"}, {"VAULT_TOKEN", "t"}}), base);
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

TEST(ConfigTest, SkipVerifyParsesGoBooleans) {
  for (const char* yes : {"1", "t", "true", "TRUE", "True"}) {
    auto c = ConfigFromEnvironment(
        Env({{"VAULT_TOKEN", "t"}, {"VAULT_SKIP_VERIFY", yes}}));
    ASSERT_TRUE(c.ok()) << yes;
    EXPECT_TRUE(c->tls.skip_verify) << yes;
  }
  auto bad = ConfigFromEnvironment(
      Env({{"VAULT_TOKEN", "t"}, {"VAULT_SKIP_VERIFY", "yes please"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("VAULT_SKIP_VERIFY"));
}

TEST(ConfigTest, BadValuesNameTheVariable) {
  struct Case {
    const char* var;
    const char* value;
  };
  for (const Case& c : {Case{"VAULT_CLIENT_TIMEOUT", "soon"},
                        Case{"VAULT_CLIENT_TIMEOUT", "-3"},
                        Case{"VAULT_MAX_RETRIES", "-1"},
                        Case{"VAULT_MAX_RETRIES", "many"},
                        Case{"VAULT_AUTH_METHOD", "ldap"},
                        Case{"VAULT_ADDR", "vault:8200"},
                        Case{"VAULT_ADDR", "ftp://vault"},
                        Case{"VAULT_ADDR", "https://vault:99999"},
                        Case{"VAULT_ADDR", "https://user:pw@vault"},
                        Case{"VAULT_ADDR", "https://vault:8200/v1"}}) {
    auto cfg = ConfigFromEnvironment(Env({{"VAULT_TOKEN", "t"}, {c.var, c.value}}));
    ASSERT_FALSE(cfg.ok()) << c.var << "=" << c.value;
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(cfg.status().message()),
                ::testing::AnyOf(HasSubstr(c.var), HasSubstr("VAULT_ADDR")));
  }
}

TEST(ConfigTest, EmptyVariablesCountAsUnset) {
  auto c = ConfigFromEnvironment(
      Env({{"VAULT_TOKEN", "t"}, {"VAULT_ADDR", ""}, {"VAULT_NAMESPACE", ""}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "https://127.0.0.1:8200");
  EXPECT_EQ(c->vault_namespace, "");
}

TEST(ConfigTest, ValidateNeedsBothClientCertAndKey) {
  VaultConfig c;
  c.auth.token = SecretData("t");
  c.tls.client_cert_file = "/c.pem";
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.tls.client_key_file = "/k.pem";
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(ConfigTest, CertAuthNeedsClientCert) {
  VaultConfig c;
  c.auth.method = AuthMethod::kCert;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST(UrlTest, ParsesHostsAndPorts) {
  auto u = internal::ParseUrl("https://vault.default:8200");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "vault.default");
  EXPECT_EQ(u->port, 8200);
  u = internal::ParseUrl("HTTPS://[::1]/v1/x?y");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v1/x?y");
  EXPECT_EQ(u->Origin(), "https://[::1]:443");
  EXPECT_FALSE(internal::ParseUrl("https://:80").ok());
  EXPECT_FALSE(internal::ParseUrl("https://[::1").ok());
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
