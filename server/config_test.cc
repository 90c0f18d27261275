#include "server/config.h"

#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/sources/files/files_factory.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "ca/sources/vault_kv/vault_kv_factory.h"
#include "ca/vault_pki/vault_pki_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ServerConfigTest, EmptyDocumentGivesIstiodDefaults) {
  auto config = ParseServerConfig("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->trust_domain, "cluster.local");
  EXPECT_EQ(config->cluster_id, "Kubernetes");
  EXPECT_EQ(config->listen.grpc_address, "0.0.0.0:15012");
  EXPECT_EQ(config->ca.default_workload_cert_ttl, absl::Hours(24));
  EXPECT_EQ(config->ca.max_workload_cert_ttl, absl::Hours(24 * 90));
  EXPECT_EQ(config->auth.identity_policy, IdentityPolicy::kIstiod);
  EXPECT_THAT(config->serving.dns_names,
              ::testing::Contains("istiod.istio-system.svc"));
  EXPECT_TRUE(ValidateServerConfig(*config).ok());
}

TEST(ServerConfigTest, ParsesEveryOption) {
  auto config = ParseServerConfig(R"(
trust_domain: example.org
cluster_id: east
cluster_aliases: [east-1, east-2]
listen: {grpc: "127.0.0.1:0", http: "", plaintext: true}
ca:
  source: files
  self_signed: {state_dir: /tmp/ss, key_type: ec-p256}
  files: {dir: /tmp/cacerts}
  vault:
    cert_ref: vault:secret/data/ca#cert
    key_ref: vault:secret/data/ca#key
    chain_ref: vault:secret/data/ca#chain
    root_ref: vault:secret/data/ca#root
  default_workload_cert_ttl: 12h
  max_workload_cert_ttl: 48h
  ttl_mode: clamp
  refresh_interval: 30s
  max_staleness: 1h
  startup_deadline: 5s
  multi_root: true
  root_cert_file: /tmp/root-cert.pem
auth:
  client_certificate: false
  client_certificate_spiffe_only: true
  jwt_clock_skew: 30s
  jwt:
    - issuer: https://issuer.example
      jwks_file: /tmp/jwks.json
      audiences: [istio-ca, other]
    - issuer: https://oidc.example
      oidc_discovery: true
      ca_file: /tmp/oidc-ca.crt
  token_review:
    enabled: true
    api_server: https://10.0.0.1:443
    token_file: /tmp/token
    ca_file: /tmp/ca.crt
    audiences: [istio-ca]
    cache_ttl: 2m
    cache_max_entries: 10
    timeout: 3s
    negative_cache_ttl: 2s
    negative_cache_max_entries: 20
    max_concurrent_reviews: 3
    review_queue_timeout: 500ms
  trusted_node_accounts: [istio-system/ztunnel]
  identity_policy: strict
serving:
  dns_names: [ca.example.org]
  cert_dir: /tmp/serving
  ttl: 6h
limits:
  max_concurrent_requests: 64
  worker_threads: 4
  inline_when_non_blocking: false
  max_request_bytes: 32768
  shutdown_grace: 10s
  handshake_timeout: 3s
  max_streams_per_connection: 10
  max_connection_idle: 1m
  max_connection_age: 2h
  max_connection_age_grace: 30s
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->trust_domain, "example.org");
  EXPECT_EQ(config->cluster_id, "east");
  EXPECT_THAT(config->cluster_aliases, ElementsAre("east-1", "east-2"));
  EXPECT_TRUE(config->listen.plaintext);
  EXPECT_EQ(config->listen.http_address, "");
  EXPECT_EQ(config->ca.source, "files");
  const ca::CaSourceOptions& sources = config->ca.source_options;
  EXPECT_EQ(sources.Get<ca::SelfSignedSourceConfig>().key_type,
            ca::KeyType::kEcP256);
  EXPECT_EQ(sources.Get<ca::FilesSourceConfig>().dir, "/tmp/cacerts");
  EXPECT_EQ(sources.Get<ca::VaultKvSourceConfig>().cert_ref,
            "vault:secret/data/ca#cert");
  EXPECT_EQ(sources.Get<ca::VaultKvSourceConfig>().root_ref,
            "vault:secret/data/ca#root");
  EXPECT_EQ(config->ca.default_workload_cert_ttl, absl::Hours(12));
  EXPECT_EQ(config->ca.ttl_mode, ca::TtlMode::kClamp);
  EXPECT_TRUE(config->ca.multi_root);
  EXPECT_EQ(config->ca.root_cert_file, "/tmp/root-cert.pem");
  EXPECT_FALSE(config->auth.client_certificate);
  EXPECT_TRUE(config->auth.client_certificate_spiffe_only);
  ASSERT_EQ(config->auth.jwt.size(), 2u);
  EXPECT_THAT(config->auth.jwt[0].audiences, ElementsAre("istio-ca", "other"));
  EXPECT_TRUE(config->auth.jwt[1].oidc_discovery);
  EXPECT_EQ(config->auth.jwt[1].ca_file, "/tmp/oidc-ca.crt");
  EXPECT_TRUE(config->auth.token_review.enabled);
  EXPECT_EQ(config->auth.token_review.cache_ttl, absl::Minutes(2));
  EXPECT_EQ(config->auth.token_review.cache_max_entries, 10);
  EXPECT_EQ(config->auth.token_review.negative_cache_ttl, absl::Seconds(2));
  EXPECT_EQ(config->auth.token_review.negative_cache_max_entries, 20);
  EXPECT_EQ(config->auth.token_review.max_concurrent_reviews, 3);
  EXPECT_EQ(config->auth.token_review.review_queue_timeout,
            absl::Milliseconds(500));
  EXPECT_THAT(config->auth.trusted_node_accounts,
              ElementsAre("istio-system/ztunnel"));
  EXPECT_EQ(config->auth.identity_policy, IdentityPolicy::kStrict);
  EXPECT_THAT(config->serving.dns_names, ElementsAre("ca.example.org"));
  EXPECT_EQ(config->serving.ttl, absl::Hours(6));
  EXPECT_EQ(config->limits.worker_threads, 4);
  EXPECT_FALSE(config->limits.inline_when_non_blocking);
  EXPECT_EQ(config->limits.shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(config->limits.handshake_timeout, absl::Seconds(3));
  EXPECT_EQ(config->limits.max_streams_per_connection, 10);
  EXPECT_EQ(config->limits.max_connection_idle, absl::Minutes(1));
  EXPECT_EQ(config->limits.max_connection_age, absl::Hours(2));
  EXPECT_EQ(config->limits.max_connection_age_grace, absl::Seconds(30));
  EXPECT_TRUE(ValidateServerConfig(*config).ok())
      << ValidateServerConfig(*config);
}

TEST(ServerConfigTest, AcceptsJson) {
  auto config = ParseServerConfig(
      R"({"trust_domain": "td.json", "limits": {"worker_threads": 3}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->trust_domain, "td.json");
  EXPECT_EQ(config->limits.worker_threads, 3);
}

TEST(ServerConfigTest, ErrorsNameTheOptionAndLine) {
  auto config = ParseServerConfig("ca:\n  max_workload_cert_tll: 1h\n");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("unknown option 'ca.max_workload_cert_tll'"));
  EXPECT_THAT(config.status().message(), HasSubstr("line 2"));

  config = ParseServerConfig("limits:\n  worker_threads: many\n");
  EXPECT_THAT(config.status().message(),
              HasSubstr("'limits.worker_threads' must be an integer"));
  config = ParseServerConfig("ca: {default_workload_cert_ttl: 1 day}");
  EXPECT_THAT(config.status().message(), HasSubstr("duration"));
  config = ParseServerConfig("auth: {identity_policy: lenient}");
  EXPECT_THAT(config.status().message(), HasSubstr("istiod or strict"));
  config = ParseServerConfig("auth: {jwt: [{issuer: a, bogus: b}]}");
  EXPECT_THAT(config.status().message(), HasSubstr("auth.jwt[0].bogus"));
  config = ParseServerConfig("listen: [a, b]");
  EXPECT_THAT(config.status().message(), HasSubstr("must be a map"));
  config = ParseServerConfig("trust_domain: [a");
  EXPECT_THAT(config.status().message(), HasSubstr("not valid YAML"));
  config = ParseServerConfig("trust_domain: a\ntrust_domain: b\n");
  EXPECT_THAT(config.status().message(), HasSubstr("appears twice"));
}

TEST(ServerConfigTest, EnvironmentOverridesTheFile) {
  auto config = ParseServerConfig("trust_domain: from.file\n");
  ASSERT_TRUE(config.ok());
  ASSERT_TRUE(ApplyEnvironment(
                  FakeEnv({{"TRUST_DOMAIN", "from.env"},
                           {"CLUSTER_ID", "west"},
                           {"DEFAULT_WORKLOAD_CERT_TTL", "12h0m0s"},
                           {"MAX_WORKLOAD_CERT_TTL", "720h"},
                           {"CA_TRUSTED_NODE_ACCOUNTS",
                            "istio-system/ztunnel, kube-system/agent"},
                           {"TOKEN_AUDIENCES", "istio-ca,extra"},
                           {"ISTIO_MULTIROOT_MESH", "true"},
                           {"ROOT_CA_DIR", "/etc/other"},
                           {"VAULTCA_IDENTITY_POLICY", "strict"},
                           {"VAULTCA_CA_SOURCE", "vault"},
                           {"VAULTCA_VAULT_KEY_REF", "vault:kv/ca#key"},
                           {"VAULTCA_CLIENT_CERT_SPIFFE_ONLY", "true"},
                           {"VAULTCA_CLUSTER_ALIASES", ""}}),
                  &*config)
                  .ok());
  EXPECT_EQ(config->trust_domain, "from.env");
  EXPECT_EQ(config->cluster_id, "west");
  EXPECT_EQ(config->ca.default_workload_cert_ttl, absl::Hours(12));
  EXPECT_EQ(config->ca.max_workload_cert_ttl, absl::Hours(720));
  EXPECT_THAT(config->auth.trusted_node_accounts,
              ElementsAre("istio-system/ztunnel", "kube-system/agent"));
  EXPECT_THAT(config->auth.token_review.audiences,
              ElementsAre("istio-ca", "extra"));
  EXPECT_TRUE(config->ca.multi_root);
  EXPECT_EQ(config->ca.source_options.Get<ca::FilesSourceConfig>().dir,
            "/etc/other");
  EXPECT_EQ(config->auth.identity_policy, IdentityPolicy::kStrict);
  EXPECT_EQ(config->ca.source, "vault");
  EXPECT_EQ(config->ca.source_options.Get<ca::VaultKvSourceConfig>().key_ref,
            "vault:kv/ca#key");
  EXPECT_TRUE(config->auth.client_certificate_spiffe_only);

  absl::Status bad = ApplyEnvironment(
      FakeEnv({{"MAX_WORKLOAD_CERT_TTL", "ninety days"}}), &*config);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("MAX_WORKLOAD_CERT_TTL"));
}

TEST(ServerConfigTest, ValidationNamesTheContradiction) {
  struct Case {
    const char* yaml;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"trust_domain: spiffe://x", "trust_domain"},
           {"cluster_id: ''", "cluster_id"},
           {"log_level: verbose", "log_level"},
           {"ca: {default_workload_cert_ttl: 48h, max_workload_cert_ttl: 24h}",
            "below the default"},
           {"ca: {default_workload_cert_ttl: 0s}", "must be positive"},
           {"auth: {client_certificate: false}", "every authenticator is off"},
           {"auth: {jwt: [{issuer: x}]}", "jwks_file"},
           {"auth: {jwt: [{issuer: x, jwks_file: /j, oidc_discovery: true}]}",
            "exactly one of"},
           {"auth: {jwt: [{issuer: x, jwks_uri: 'http://x/keys'}]}",
            "https:// URL"},
           {"auth: {jwt: [{issuer: 'http://x', oidc_discovery: true}]}",
            "https:// issuer"},
           {"auth: {trusted_node_accounts: [ztunnel]}",
            "<namespace>/<serviceaccount>"},
           {"auth: {trusted_node_accounts: [a/b]}", "enable auth.token_review"},
           {"auth: {token_review: {enabled: true, max_concurrent_reviews: 0}}",
            "max_concurrent_reviews"},
           {"auth: {token_review: {enabled: true, negative_cache_ttl: 2m}}",
            "negative_cache_ttl"},
           {"auth: {token_review: {enabled: true, "
            "negative_cache_max_entries: -1}}",
            "negative_cache_max_entries"},
           {"auth: {token_review: {enabled: true, review_queue_timeout: 2m}}",
            "review_queue_timeout"},
           {"serving: {dns_names: ['*bad name']}", "not a DNS name"},
           {"serving: {dns_names: []}", "serving.dns_names"},
           {"limits: {worker_threads: 0}", "worker_threads"},
           {"limits: {worker_threads: 8, max_concurrent_requests: 4}",
            "max_concurrent_requests"},
           {"limits: {max_request_bytes: 100}", "max_request_bytes"},
           {"ca: {source: vault, vault: {key_ref: ''}}", "key_ref"},
       }) {
    auto config = ParseServerConfig(c.yaml);
    ASSERT_TRUE(config.ok()) << c.yaml << ": " << config.status();
    absl::Status s = ValidateServerConfig(*config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(s.message(), HasSubstr(c.expect)) << c.yaml;
  }
}

TEST(ServerConfigTest, SampleConfigParsesAndValidates) {
  // The documented sample must stay loadable.
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::string path = "examples/server/vaultca.yaml";
  if (srcdir != nullptr && workspace != nullptr) {
    path = std::string(srcdir) + "/" + workspace + "/" + path;
  } else if (const char* src = std::getenv("VAULTCA_SOURCE_DIR")) {
    path = std::string(src) + "/" + path;
  }
  auto config = LoadServerConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(ValidateServerConfig(*config).ok())
      << ValidateServerConfig(*config);
  auto missing = LoadServerConfigFile(path + ".missing");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(ServerConfigTest, MeshIstiodCertificate) {
  auto defaults = ParseServerConfig("");
  ASSERT_TRUE(defaults.ok());
  const IstiodCertificateConfig& d = defaults->mesh.istiod_certificate;
  EXPECT_FALSE(d.enabled);
  EXPECT_EQ(d.istiod_namespace, "istio-system");
  EXPECT_EQ(d.secret_name, "istiod-tls");
  EXPECT_TRUE(d.revisions.empty());
  EXPECT_TRUE(d.dns_names.empty());
  EXPECT_EQ(d.ttl, absl::Hours(24));
  EXPECT_EQ(d.key_type, ca::KeyType::kRsa);
  EXPECT_EQ(d.lease_name, "vaultca-istiod-cert");

  auto config = ParseServerConfig(
      "mesh:\n"
      "  istiod_certificate:\n"
      "    enabled: true\n"
      "    namespace: mesh-system\n"
      "    secret_name: istiod-tls-2\n"
      "    revisions: [default, canary]\n"
      "    dns_names: [istiod-remote.mesh-system.svc]\n"
      "    ttl: 12h\n"
      "    key_type: ec-p256\n"
      "    lease_name: my-lease\n"
      "  leader_election:\n"
      "    lease_namespace: vaultca\n"
      "    identity: vaultca-0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const IstiodCertificateConfig& ic = config->mesh.istiod_certificate;
  EXPECT_TRUE(ic.enabled);
  EXPECT_EQ(ic.istiod_namespace, "mesh-system");
  EXPECT_EQ(ic.secret_name, "istiod-tls-2");
  EXPECT_THAT(ic.revisions, ElementsAre("default", "canary"));
  EXPECT_THAT(ic.dns_names, ElementsAre("istiod-remote.mesh-system.svc"));
  EXPECT_EQ(ic.ttl, absl::Hours(12));
  EXPECT_EQ(ic.key_type, ca::KeyType::kEcP256);
  EXPECT_EQ(ic.lease_name, "my-lease");
  EXPECT_EQ(config->mesh.leader_election.lease_namespace, "vaultca");
  EXPECT_EQ(config->mesh.leader_election.identity, "vaultca-0");
  EXPECT_TRUE(ValidateServerConfig(*config).ok())
      << ValidateServerConfig(*config);

  auto bad_key = ParseServerConfig(
      "mesh:\n  istiod_certificate:\n    key_type: ed25519\n");
  EXPECT_THAT(bad_key.status().message(),
              HasSubstr("mesh.istiod_certificate.key_type"));
  EXPECT_THAT(ParseServerConfig("mesh:\n  istiod_certificate:\n    typo: 1\n")
                  .status()
                  .message(),
              HasSubstr("mesh.istiod_certificate.typo"));

  // The environment, with the downward API's pod name and namespace shared
  // by both elections.
  ServerConfig env_config;
  ASSERT_TRUE(ApplyEnvironment(
                  FakeEnv({{"VAULTCA_ISTIOD_CERT", "true"},
                           {"VAULTCA_ISTIOD_CERT_NAMESPACE", "istio-canary"},
                           {"VAULTCA_ISTIOD_CERT_REVISIONS", "canary,1-24"},
                           {"VAULTCA_ISTIOD_CERT_DNS_NAMES",
                            "a.example.com, b.example.com"},
                           {"VAULTCA_ISTIOD_CERT_TTL", "6h"},
                           {"VAULTCA_ISTIOD_CERT_KEY_TYPE", "ec-p256"},
                           {"POD_NAME", "vaultca-1"},
                           {"POD_NAMESPACE", "vaultca-ns"}}),
                  &env_config)
                  .ok());
  const IstiodCertificateConfig& e = env_config.mesh.istiod_certificate;
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.istiod_namespace, "istio-canary");
  EXPECT_THAT(e.revisions, ElementsAre("canary", "1-24"));
  EXPECT_THAT(e.dns_names, ElementsAre("a.example.com", "b.example.com"));
  EXPECT_EQ(e.ttl, absl::Hours(6));
  EXPECT_EQ(e.key_type, ca::KeyType::kEcP256);
  EXPECT_EQ(env_config.mesh.leader_election.identity, "vaultca-1");
  EXPECT_EQ(env_config.mesh.leader_election.lease_namespace, "vaultca-ns");
  EXPECT_EQ(env_config.mesh.root_configmap.identity, "vaultca-1");
  EXPECT_TRUE(ValidateServerConfig(env_config).ok())
      << ValidateServerConfig(env_config);
  ServerConfig bad_env;
  EXPECT_THAT(ApplyEnvironment(FakeEnv({{"VAULTCA_ISTIOD_CERT_KEY_TYPE", "rsa"}}),
                               &bad_env)
                  .message(),
              HasSubstr("VAULTCA_ISTIOD_CERT_KEY_TYPE"));

  // Validation names the key.
  for (const auto& c : std::vector<std::pair<std::string, std::string>>{
           {"namespace: Istio_System", "mesh.istiod_certificate.namespace"},
           {"secret_name: ''", "mesh.istiod_certificate.secret_name"},
           {"revisions: [Canary]", "mesh.istiod_certificate.revisions"},
           {"dns_names: ['*.example.com']", "mesh.istiod_certificate.dns_names"},
           {"ttl: 5m", "mesh.istiod_certificate.ttl"},
           {"ttl: 2400h", "ca.max_workload_cert_ttl"},
       }) {
    auto parsed = ParseServerConfig(absl::StrCat(
        "mesh:\n  leader_election: {lease_namespace: a, identity: b}\n"
        "  istiod_certificate:\n    enabled: true\n    ",
        c.first, "\n"));
    ASSERT_TRUE(parsed.ok()) << c.first << ": " << parsed.status();
    absl::Status s = ValidateServerConfig(*parsed);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.first;
    EXPECT_THAT(s.message(), HasSubstr(c.second)) << c.first;
  }
  ServerConfig no_identity;
  no_identity.mesh.istiod_certificate.enabled = true;
  EXPECT_THAT(ValidateServerConfig(no_identity).message(),
              HasSubstr("POD_NAME"));
  // root_configmap's own election keys still serve when set alone.
  no_identity.mesh.root_configmap.identity = "x";
  no_identity.mesh.root_configmap.lease_namespace = "y";
  EXPECT_TRUE(ValidateServerConfig(no_identity).ok());
}

}  // namespace
}  // namespace server
}  // namespace vaultca

namespace vaultca {
namespace server {
namespace {

TEST(ServerConfigCaTest, VaultPkiFromTheFile) {
  auto config = ParseServerConfig(R"(
ca:
  source: vault-pki
  vault_pki:
    mount: pki_int
    role: istio
    endpoint: sign
    issuer: mesh-2026
    root_cert_file: /etc/vaultca/root.pem
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca.source, "vault-pki");
  const ca::VaultPkiConfig& pki =
      config->ca.source_options.Get<ca::VaultPkiConfig>();
  EXPECT_EQ(pki.mount, "pki_int");
  EXPECT_EQ(pki.role, "istio");
  EXPECT_EQ(pki.endpoint, "sign");
  EXPECT_EQ(pki.issuer, "mesh-2026");
  EXPECT_EQ(pki.root_cert_file, "/etc/vaultca/root.pem");
  EXPECT_TRUE(ValidateServerConfig(*config).ok());

  auto typo = ParseServerConfig("ca:\n  vault_pki:\n    rol: istio\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("ca.vault_pki.rol"));
  auto source = ParseServerConfig("ca:\n  source: vault_pki\n");
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("vault-pki"));
}

TEST(ServerConfigCaTest, VaultPkiFromTheEnvironment) {
  ServerConfig config;
  ASSERT_TRUE(ApplyEnvironment(
                  FakeEnv({{"VAULTCA_CA_SOURCE", "vault-pki"},
                           {"VAULTCA_VAULT_PKI_MOUNT", "pki_int"},
                           {"VAULTCA_VAULT_PKI_ROLE", "istio"},
                           {"VAULTCA_VAULT_PKI_ENDPOINT", "sign-verbatim"},
                           {"VAULTCA_VAULT_PKI_ISSUER", ""},
                           {"VAULTCA_VAULT_PKI_ROOT_CERT_FILE", "/r.pem"}}),
                  &config)
                  .ok());
  EXPECT_EQ(config.ca.source, "vault-pki");
  const ca::VaultPkiConfig& pki =
      config.ca.source_options.Get<ca::VaultPkiConfig>();
  EXPECT_EQ(pki.mount, "pki_int");
  EXPECT_EQ(pki.role, "istio");
  EXPECT_EQ(pki.endpoint, "sign-verbatim");
  EXPECT_EQ(pki.issuer, "");
  EXPECT_EQ(pki.root_cert_file, "/r.pem");
  EXPECT_TRUE(ValidateServerConfig(config).ok());
}

TEST(ServerConfigCaTest, VaultPkiValidation) {
  ServerConfig config;
  config.ca.source = "vault-pki";
  ca::VaultPkiConfig& pki =
      config.ca.source_options.Mutable<ca::VaultPkiConfig>();
  // The sign endpoint needs a role.
  absl::Status s = ValidateServerConfig(config);
  EXPECT_THAT(s.message(), HasSubstr("ca.vault_pki.role"));
  pki.role = "istio";
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  pki.endpoint = "issue";
  EXPECT_THAT(ValidateServerConfig(config).message(),
              HasSubstr("ca.vault_pki.endpoint"));
  pki.endpoint = "sign-verbatim";
  pki.role = "";
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  pki.issuer = "other";
  EXPECT_THAT(ValidateServerConfig(config).message(),
              HasSubstr("ca.vault_pki.issuer"));
  pki = ca::VaultPkiConfig{};
  pki.role = "istio";
  pki.mount = "";
  EXPECT_THAT(ValidateServerConfig(config).message(),
              HasSubstr("ca.vault_pki.mount"));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
