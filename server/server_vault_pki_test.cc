// vaultca-server with ca.source vault-pki against a real Vault
// (VAULTCA_VAULT_BIN): Vault's PKI engine holds an intermediate it
// generated, certified by a root the test keeps offline; every certificate
// (workloads' through the gRPC service, and the server's own serving
// certificate) is signed by Vault, and the published root is the offline
// root, not Vault's intermediate.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ca/vault_pki/testing/offline_ca.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"
#include "testing/real_vault.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"
#include "testing/test_pki.h"
#include "testing/tls.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trimmed(const std::string& pem) {
  return std::string(absl::StripAsciiWhitespace(pem)) + "\n";
}

// The value of the unlabelled sample `name` in Prometheus text; -1 when
// absent.
double MetricValue(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    double value;
    if (parts.size() == 2 && parts[0] == name &&
        absl::SimpleAtod(parts[1], &value)) {
      return value;
    }
  }
  return -1;
}

class ServerVaultPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testkit::TestTls* tls = nullptr;
    testkit::RealVault* vault = nullptr;
    absl::Status started = testkit::StartSuiteVault(&tls, &vault);
    if (!started.ok()) {
      if (testkit::MissingVaultAllowed() &&
          absl::StrContains(started.message(), "VAULTCA_VAULT_BIN")) {
        GTEST_SKIP() << started;
      }
      FAIL() << started;
    }
    tls_.reset(tls);
    vault_.reset(vault);
  }

  absl::StatusOr<std::string> Cli(const std::vector<std::string>& args) {
    return vault_->Cli(args);
  }

  // pki_int: an intermediate Vault generated, certified by `root` offline
  // and handed back alone (Vault never sees the root), and the role
  // vaultca signs with: the mesh's SPIFFE ids and the serving names, no
  // CN, leaves not stored.
  absl::Status ConfigurePki(const ca::CaMaterialPem& root) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=pki_int", "pki"},
             {"secrets", "tune", "-max-lease-ttl=8760h", "pki_int"},
             {"write", "pki_int/roles/istio",
              "allowed_uri_sans=spiffe://cluster.local/*",
              "allowed_domains=istio-system.svc", "allow_subdomains=true",
              "require_cn=false", "key_type=any", "use_csr_sans=false",
              "use_csr_common_name=false", "no_store=true", "max_ttl=720h"}}) {
      absl::StatusOr<std::string> out = Cli(args);
      if (!out.ok()) return out.status();
    }
    absl::StatusOr<std::string> csr =
        Cli({"write", "-field=csr", "pki_int/intermediate/generate/internal",
             "common_name=vaultca mesh intermediate", "key_type=ec",
             "key_bits=256"});
    if (!csr.ok()) return csr.status();
    absl::StatusOr<std::string> cert =
        ca::testing::SignIntermediateCsr(root, *csr, absl::Hours(24 * 30));
    if (!cert.ok()) return cert.status();
    intermediate_pem_ = Trimmed(*cert);
    absl::StatusOr<std::string> path =
        testkit::WriteFileIn(tls_->dir, "int.pem", *cert);
    if (!path.ok()) return path.status();
    absl::StatusOr<std::string> set = Cli(
        {"write", "pki_int/intermediate/set-signed", "certificate=@" + *path});
    return set.ok() ? absl::OkStatus() : set.status();
  }

  std::unique_ptr<testkit::TestTls> tls_;
  std::unique_ptr<testkit::RealVault> vault_;
  std::string intermediate_pem_;
};

TEST_F(ServerVaultPkiTest, IssuesThroughVaultPkiUnderAnOfflineRoot) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  ASSERT_TRUE(ConfigurePki(root).ok());
  const std::string dir = testkit::MakeTempDir("server-vault-pki");
  ASSERT_TRUE(
      testkit::WriteTestFile(dir + "/offline-root.pem", root.cert_pem).ok());
  testkit::TestJwtKey key{"k1", "RS256", 0};
  ASSERT_TRUE(
      testkit::WriteTestFile(dir + "/jwks.json", testkit::JwksJson({key}))
          .ok());

  // As an operator writes it; the Vault connection from VAULT_*.
  absl::StatusOr<ServerConfig> config = ParseServerConfig(absl::StrCat(R"(
listen:
  grpc: 127.0.0.1:0
  http: ""
ca:
  source: vault-pki
  vault_pki:
    mount: pki_int
    role: istio
    root_cert_file: )", dir, R"(/offline-root.pem
  refresh_interval: 1s
  startup_policy: fail
  startup_deadline: 20s
  root_cert_file: )", dir, R"(/root-cert.pem
serving:
  cert_dir: )", dir, R"(/serving
auth:
  jwt:
    - issuer: https://kubernetes.default.svc.cluster.local
      jwks_file: )", dir, R"(/jwks.json
)"));
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string address = vault_->address();
  const std::string ca_file = tls_->ca_file;
  const std::string token = vault_->root_token();
  config->ca.vault_environment =
      [=](absl::string_view name) -> std::optional<std::string> {
    if (name == "VAULT_ADDR") return address;
    if (name == "VAULT_CACERT") return ca_file;
    if (name == "VAULT_TOKEN") return token;
    // A frozen Vault below is noticed within seconds.
    if (name == "VAULT_CLIENT_TIMEOUT") return std::string("3s");
    if (name == "VAULT_MAX_RETRIES") return std::string("0");
    return std::nullopt;
  };
  ServerDependencies deps;
  deps.maintenance_interval = absl::Milliseconds(100);
  auto server = VaultcaServer::Start(*config, std::move(deps));
  ASSERT_TRUE(server.ok()) << server.status();

  // The root workloads trust is the offline root, not Vault's intermediate.
  EXPECT_EQ(ReadFile(dir + "/root-cert.pem"), Trimmed(root.cert_pem));
  EXPECT_EQ((*server)->ca().CurrentBundle(), nullptr);
  // The serving certificate came from Vault too: [leaf, intermediate].
  const std::string serving = ReadFile(dir + "/serving/cert-chain.pem");
  EXPECT_THAT(serving, HasSubstr(intermediate_pem_));
  EXPECT_EQ(ReadFile(dir + "/serving/root-cert.pem"), Trimmed(root.cert_pem));
  EXPECT_EQ((*server)->serving_cert_issues(), 1);

  testing::AgentOptions options;
  options.address = absl::StrCat("127.0.0.1:", (*server)->grpc_port());
  options.root_cert_pem = root.cert_pem;  // The TLS handshake verifies too.
  options.token = testkit::SignJwt(key, testkit::SaClaimsJson({}));
  options.key_type = ca::KeyType::kEcP256;
  testing::AgentClient agent(options);
  testing::AgentResult result = agent.Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  // Istio's order: leaf, intermediate, root; each once.
  ASSERT_EQ(result.cert_chain.size(), 3u);
  EXPECT_EQ(result.cert_chain[1], intermediate_pem_);
  EXPECT_EQ(result.cert_chain[2], Trimmed(root.cert_pem));
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, root.cert_pem).ok());
  auto leaf = testing::InspectLeaf(result.cert_chain[0]);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(leaf->sans,
              ::testing::ElementsAre(
                  "spiffe://cluster.local/ns/default/sa/sleep"));

  // Ready (Vault reachable, issuer chain loaded, a probe signed by Vault
  // verified), and the metrics are the issuer chain's.
  EXPECT_TRUE((*server)->Readiness().ok()) << (*server)->Readiness();
  const std::string metrics = (*server)->MetricsText();
  EXPECT_EQ(MetricValue(metrics, "vaultca_ca_ready"), 1);
  EXPECT_EQ(MetricValue(metrics, "citadel_server_success_cert_issuance_count"),
            1);
  const double chain_expiry =
      MetricValue(metrics, "citadel_server_cert_chain_expiry_timestamp");
  const double root_expiry =
      MetricValue(metrics, "citadel_server_root_cert_expiry_timestamp");
  EXPECT_GT(chain_expiry, absl::ToUnixSeconds(absl::Now()));
  EXPECT_LE(chain_expiry,
            absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)) + 1);
  EXPECT_GT(root_expiry, chain_expiry);

  // An unauthenticated caller learns nothing but istiod's message.
  options.token = "not-a-jwt";
  result = testing::AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(result.message, "request authenticate failure");

  // Vault gone: not ready, as signing is impossible.
  vault_->Freeze();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((*server)->ca().Readiness().ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_FALSE((*server)->ca().Readiness().ok());
  EXPECT_FALSE((*server)->Readiness().ok());
  vault_->Thaw();
}

}  // namespace
}  // namespace server
}  // namespace vaultca
