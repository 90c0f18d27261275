// The seed's setup on a real cluster: a real kube-apiserver (tools/kube/)
// and a real Vault (tools/vault/), Vault's kubernetes auth method
// configured as the seed configures it (role istiod bound to istiod's
// service account in istio-system, policy allow_istiod_secrets, ttl 1h, a
// reviewer service account bound to system:auth-delegator), and
// vaultca-server logging in with istiod's pod-bound token from the
// TokenRequest API, projected into a file the way kubelet does it. Nothing
// here is a fake: every login and review is answered by the real servers.
//
// Fails when a binary is missing unless VAULTCA_ALLOW_NO_VAULT=1 /
// VAULTCA_ALLOW_NO_KUBE=1.

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ca/sources/vault_kv/vault_kv_source.h"
#include "gtest/gtest.h"
#include "server/kube/testing/real_kube.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"
#include "testing/real_vault_fixture.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "testing/tls.h"
#include "vault/client.h"
#include "vault/config.h"

namespace vaultca {
namespace server {
namespace {

using testing::RealKube;

// The seed's names.
constexpr char kIstiodNs[] = "istio-system";
constexpr char kIstiodSa[] = "istiod-service-account-cp-v115x";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The seed's Vault (RealVaultSuite: KV v2 at secret/, the policy
// allow_istiod_secrets) and a real kube-apiserver.
class ServerRealKubeTest : public testkit::RealVaultSuite {
 protected:
  static void SetUpTestSuite() { StartSuite(&ConfigureClusterAndVault); }

  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
    RealVaultSuite::TearDownTestSuite();
  }

  void SetUp() override {
    if (setup_error_ != nullptr &&
        absl::StrContains(*setup_error_, "VAULTCA_KUBE_BIN_DIR") &&
        testing::MissingKubeAllowed()) {
      GTEST_SKIP() << *setup_error_;
    }
    RealVaultSuite::SetUp();
  }

  // The cluster side (namespaces, service accounts, pods, the reviewer's
  // binding) and the seed's Vault configuration.
  static absl::Status ConfigureClusterAndVault() {
    if (absl::Status s = testing::StartSuiteKube(&kube_); !s.ok()) return s;
    for (const char* ns : {kIstiodNs, "sleep"}) {
      if (absl::Status s = kube_->CreateNamespace(ns); !s.ok()) return s;
    }
    for (const auto& [ns, sa] : std::vector<std::pair<std::string, std::string>>{
             {kIstiodNs, kIstiodSa},
             {kIstiodNs, "other"},
             {"default", kIstiodSa},
             {"default", "vault"},
             {"sleep", "sleep"}}) {
      if (absl::Status s = kube_->CreateServiceAccount(ns, sa); !s.ok()) return s;
    }
    // Vault reviews logins; vaultca-server (as istiod) reviews workloads.
    for (const auto& [binding, ns, sa] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"vault-tokenreview", "default", "vault"},
             {"istiod-tokenreview", kIstiodNs, kIstiodSa}}) {
      if (absl::Status s =
              kube_->BindClusterRole(binding, "system:auth-delegator", ns, sa);
          !s.ok()) {
        return s;
      }
    }
    for (const auto& [ns, pod, sa] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"default", "vault-0", "vault"},
             {"sleep", "sleep-0", "sleep"}}) {
      if (absl::StatusOr<std::string> uid = kube_->CreatePod(ns, pod, sa, "node-a");
          !uid.ok()) {
        return uid.status();
      }
    }
    absl::StatusOr<std::string> reviewer = PodToken("default", "vault", "vault-0", {});
    if (!reviewer.ok()) return reviewer.status();

    absl::StatusOr<std::string> kube_ca =
        testkit::WriteFileIn(tls_->dir, "kube-ca.crt", ReadFile(kube_->ca_file()));
    if (!kube_ca.ok()) return kube_ca.status();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"auth", "enable", "kubernetes"},
             {"write", "auth/kubernetes/config",
              absl::StrCat("kubernetes_host=", kube_->address()),
              absl::StrCat("kubernetes_ca_cert=@", *kube_ca),
              absl::StrCat("token_reviewer_jwt=", *reviewer),
              "disable_local_ca_jwt=true"},
             {"write", "auth/kubernetes/role/istiod",
              absl::StrCat("bound_service_account_names=", kIstiodSa),
              absl::StrCat("bound_service_account_namespaces=", kIstiodNs),
              "policies=allow_istiod_secrets", "ttl=1h"}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) return out.status();
    }
    const ca::CaMaterialPem root = testkit::Root();
    const ca::CaMaterialPem ca =
        testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 0);
    absl::StatusOr<std::string> key =
        testkit::WriteFileIn(tls_->dir, "ca.key", ca.key_pem.view());
    absl::StatusOr<std::string> cert = testkit::WriteFileIn(
        tls_->dir, "ca.crt", absl::StrCat(ca.cert_pem, ca.chain_pem));
    if (!key.ok()) return key.status();
    if (!cert.ok()) return cert.status();
    // The seed's "Add secrets in Vault" step.
    absl::StatusOr<std::string> put =
        vault_->Cli({"kv", "put", "secret/pki/istiod",
                     absl::StrCat("privateKey=@", *key),
                     absl::StrCat("certificate=@", *cert)});
    if (!put.ok()) return put.status();
    *root_bundle_ = root.root_bundle_pem;
    return absl::OkStatus();
  }

  // A token of ns/sa bound to pod ns/pod (kubelet's projected token).
  static absl::StatusOr<std::string> PodToken(
      const std::string& ns, const std::string& sa, const std::string& pod,
      std::vector<std::string> audiences) {
    absl::StatusOr<nlohmann::json> object =
        kube_->Call("GET", absl::StrCat("/api/v1/namespaces/", ns, "/pods/", pod));
    if (!object.ok()) return object.status();
    RealKube::TokenOptions options;
    options.audiences = std::move(audiences);
    options.ttl = absl::Seconds(3607);  // kubelet's default
    options.pod_name = pod;
    options.pod_uid = (*object)["metadata"].value("uid", "");
    return kube_->RequestToken(ns, sa, options);
  }

  // A Vault client configured from the environment vault-env reads, as
  // vaultca-server configures its own.
  static absl::StatusOr<std::unique_ptr<vault::VaultClient>> KubeLoginClient(
      const std::string& jwt_file, const std::string& role = "istiod") {
    const std::map<std::string, std::string> env = {
        {"VAULT_ADDR", vault_->address()},
        {"VAULT_CACERT", tls_->ca_file},
        {"VAULT_AUTH_METHOD", "kubernetes"},
        {"VAULT_ROLE", role},
        {"VAULT_JWT_FILE", jwt_file}};
    absl::StatusOr<vault::VaultConfig> config = vault::ConfigFromEnvironment(
        [&env](absl::string_view name) -> std::optional<std::string> {
          auto it = env.find(std::string(name));
          if (it == env.end()) return std::nullopt;
          return it->second;
        });
    if (!config.ok()) return config.status();
    config->timeout = absl::Seconds(20);
    return vault::VaultClient::New(*config);
  }

  // istiod's pod `pod` and its projected token under dir/istiod-token.
  static absl::StatusOr<std::string> IstiodTokenFile(const std::string& dir,
                                                     const std::string& pod) {
    if (absl::StatusOr<std::string> uid =
            kube_->CreatePod(kIstiodNs, pod, kIstiodSa, "node-a");
        !uid.ok()) {
      return uid.status();
    }
    absl::StatusOr<std::string> token = PodToken(kIstiodNs, kIstiodSa, pod, {});
    if (!token.ok()) return token.status();
    return testing::ProjectToken(dir + "/istiod-token", *token);
  }

  // The seed's references, read with `client`.
  static absl::StatusOr<std::unique_ptr<ca::MaterialSource>> SeedSource(
      std::shared_ptr<vault::VaultClient> client) {
    ca::VaultKvSourceOptions refs;
    refs.cert_ref = "vault:secret/data/pki/istiod#certificate";
    refs.key_ref = "vault:secret/data/pki/istiod#privateKey";
    absl::StatusOr<std::unique_ptr<ca::VaultKvSource>> source =
        ca::VaultKvSource::New(std::move(client), refs);
    if (!source.ok()) return source.status();
    return std::unique_ptr<ca::MaterialSource>(*std::move(source));
  }

  // vaultca-server in istiod's place: workloads reviewed by the API server
  // with istiod's token.
  static ServerConfig IstiodConfig(const std::string& dir,
                                   const std::string& token_file) {
    ServerConfig config;
    config.listen.grpc_address = "127.0.0.1:0";
    config.listen.http_address = "";
    config.ca.root_cert_file = dir + "/root-cert.pem";
    config.serving.cert_dir = dir + "/serving";
    config.auth.token_review.enabled = true;
    config.auth.token_review.api_server = kube_->address();
    config.auth.token_review.ca_file = kube_->ca_file();
    config.auth.token_review.token_file = token_file;
    return config;
  }

  // Istio's client as the sleep workload, with its istio-ca token.
  static testing::AgentOptions SleepAgent(const VaultcaServer& server) {
    testing::AgentOptions options;
    options.address = absl::StrCat("127.0.0.1:", server.grpc_port());
    options.root_cert_pem = *root_bundle_;
    options.key_type = ca::KeyType::kEcP256;
    absl::StatusOr<std::string> token =
        PodToken("sleep", "sleep", "sleep-0", {"istio-ca"});
    EXPECT_TRUE(token.ok()) << token.status();
    if (token.ok()) options.token = *token;
    return options;
  }

  static RealKube* kube_;
  static std::string* root_bundle_;
};

RealKube* ServerRealKubeTest::kube_ = nullptr;
std::string* ServerRealKubeTest::root_bundle_ = new std::string();

TEST_F(ServerRealKubeTest, SeedSetupServesWorkloadsReviewedByTheApiServer) {
  const std::string dir = testkit::MakeTempDir("seed");
  absl::StatusOr<std::string> token_file = IstiodTokenFile(dir, "istiod-seed");
  ASSERT_TRUE(token_file.ok()) << token_file.status();
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> client =
      KubeLoginClient(*token_file);
  ASSERT_TRUE(client.ok()) << client.status();
  std::shared_ptr<vault::VaultClient> shared(std::move(*client));
  absl::StatusOr<std::unique_ptr<ca::MaterialSource>> source = SeedSource(shared);
  ASSERT_TRUE(source.ok()) << source.status();
  ServerDependencies deps;
  deps.source = *std::move(source);
  absl::StatusOr<std::unique_ptr<VaultcaServer>> server =
      VaultcaServer::Start(IstiodConfig(dir, *token_file), std::move(deps));
  ASSERT_TRUE(server.ok()) << server.status();

  // The login Vault granted: the seed's policy, for the seed's hour.
  const vault::TokenInfo login = shared->token_info();
  EXPECT_EQ(login.logins, 1);
  EXPECT_EQ(login.ttl, absl::Hours(1));
  EXPECT_EQ(ReadFile(dir + "/root-cert.pem"), *root_bundle_);

  testing::AgentOptions options = SleepAgent(**server);
  testing::AgentResult result = testing::AgentClient(options).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  absl::StatusOr<testing::LeafInfo> leaf = testing::InspectLeaf(result.cert_chain[0]);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->sans,
            std::vector<std::string>{"spiffe://cluster.local/ns/sleep/sa/sleep"});
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, *root_bundle_).ok());

  // The same pod's token for Vault's audience is not an istio-ca token.
  absl::StatusOr<std::string> wrong_audience =
      PodToken("sleep", "sleep", "sleep-0", {"vault"});
  ASSERT_TRUE(wrong_audience.ok()) << wrong_audience.status();
  options.token = *wrong_audience;
  result = testing::AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED) << result.message;
  (*server)->Shutdown(absl::ZeroDuration());
}

TEST_F(ServerRealKubeTest, VaultRefusesOtherAccountsAndOtherPaths) {
  const std::string dir = testkit::MakeTempDir("refusals");
  ASSERT_TRUE(kube_->CreatePod(kIstiodNs, "other-0", "other", "node-a").ok());
  ASSERT_TRUE(kube_->CreatePod("default", "istiod-elsewhere", kIstiodSa, "node-a").ok());
  struct Case {
    std::string what, ns, sa, pod;
  };
  for (const Case& c : std::vector<Case>{
           {"another account in istio-system", kIstiodNs, "other", "other-0"},
           {"istiod's name in another namespace", "default", kIstiodSa,
            "istiod-elsewhere"}}) {
    absl::StatusOr<std::string> token = PodToken(c.ns, c.sa, c.pod, {});
    ASSERT_TRUE(token.ok()) << token.status();
    absl::StatusOr<std::string> file =
        testing::ProjectToken(absl::StrCat(dir, "/", c.pod), *token);
    ASSERT_TRUE(file.ok()) << file.status();
    absl::StatusOr<std::unique_ptr<vault::VaultClient>> client =
        KubeLoginClient(*file);
    ASSERT_TRUE(client.ok()) << client.status();
    absl::Status login = (*client)->Login();
    EXPECT_EQ(login.code(), absl::StatusCode::kPermissionDenied)
        << c.what << ": " << login;
  }

  // istiod itself may read its secret and nothing else.
  ASSERT_TRUE(kube_->CreatePod(kIstiodNs, "istiod-paths", kIstiodSa, "node-a").ok());
  absl::StatusOr<std::string> token = PodToken(kIstiodNs, kIstiodSa, "istiod-paths", {});
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<std::string> file =
      testing::ProjectToken(dir + "/istiod-paths", *token);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> client = KubeLoginClient(*file);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->ReadKv("secret/data/pki/istiod").ok());
  EXPECT_EQ((*client)->ReadKv("secret/data/pki/other").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ServerRealKubeTest, ReadsTheRewrittenTokenAtEachLogin) {
  // kubelet rewrites the projected token before it expires; when istiod's
  // pod is replaced, the old token dies with the old pod. The next login
  // must use the file's new content.
  const std::string dir = testkit::MakeTempDir("rotation");
  ASSERT_TRUE(kube_->CreatePod(kIstiodNs, "istiod-old", kIstiodSa, "node-a").ok());
  ASSERT_TRUE(kube_->CreatePod(kIstiodNs, "istiod-new", kIstiodSa, "node-a").ok());
  absl::StatusOr<std::string> old_token = PodToken(kIstiodNs, kIstiodSa, "istiod-old", {});
  absl::StatusOr<std::string> new_token = PodToken(kIstiodNs, kIstiodSa, "istiod-new", {});
  ASSERT_TRUE(old_token.ok()) << old_token.status();
  ASSERT_TRUE(new_token.ok()) << new_token.status();
  absl::StatusOr<std::string> file =
      testing::ProjectToken(dir + "/token-dir", *old_token);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> client = KubeLoginClient(*file);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->ReadKv("secret/data/pki/istiod").ok());
  EXPECT_EQ((*client)->token_info().logins, 1);

  ASSERT_TRUE(testing::ProjectToken(dir + "/token-dir", *new_token).ok());
  ASSERT_TRUE(kube_->DeletePod(kIstiodNs, "istiod-old").ok());
  ASSERT_TRUE(kube_->WaitAuthenticated(*old_token, {}, false, absl::Seconds(60)).ok());
  // Every Vault token from this login path is revoked: the client's next
  // read is refused and it logs in again, reading the file again.
  ASSERT_TRUE(vault_->Cli({"token", "revoke", "-mode=path", "auth/kubernetes/login"}).ok());
  absl::StatusOr<vault::KvSecret> read = (*client)->ReadKv("secret/data/pki/istiod");
  EXPECT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*client)->token_info().logins, 2);

  // And the old token alone no longer logs in: Vault asked the API server.
  absl::StatusOr<std::string> stale = testing::ProjectToken(dir + "/stale", *old_token);
  ASSERT_TRUE(stale.ok()) << stale.status();
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> stale_client = KubeLoginClient(*stale);
  ASSERT_TRUE(stale_client.ok()) << stale_client.status();
  EXPECT_EQ((*stale_client)->Login().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ServerRealKubeTest, StartsDuringAVaultOutageAndServesWhenItReturns) {
  // A rollout or an eviction while Vault cannot answer: the replica must
  // come up (liveness answers, not ready) instead of crash-looping, and
  // serve as soon as Vault is back.
  const std::string dir = testkit::MakeTempDir("outage");
  absl::StatusOr<std::string> token_file = IstiodTokenFile(dir, "istiod-outage");
  ASSERT_TRUE(token_file.ok()) << token_file.status();
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> client =
      KubeLoginClient(*token_file);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::unique_ptr<ca::MaterialSource>> source =
      SeedSource(std::shared_ptr<vault::VaultClient>(std::move(*client)));
  ASSERT_TRUE(source.ok()) << source.status();
  ServerConfig config = IstiodConfig(dir, *token_file);
  config.listen.http_address = "127.0.0.1:0";
  config.ca.startup_deadline = absl::Seconds(2);
  ServerDependencies deps;
  deps.source = *std::move(source);
  deps.maintenance_interval = absl::Milliseconds(100);

  vault_->Freeze();
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<VaultcaServer>> server =
      VaultcaServer::Start(config, std::move(deps));
  const absl::Duration startup = absl::Now() - start;
  if (!server.ok()) vault_->Thaw();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_GT((*server)->grpc_port(), 0);
  EXPECT_EQ((*server)->Readiness().code(), absl::StatusCode::kUnavailable);

  vault_->Thaw();
  const absl::Time thawed = absl::Now();
  while (!(*server)->Readiness().ok() && absl::Now() < thawed + absl::Seconds(90)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE((*server)->Readiness().ok()) << (*server)->Readiness();
  std::cout << "MEASURED: start-up with Vault frozen " << absl::FormatDuration(startup)
            << " (startup_deadline 2s), ready "
            << absl::FormatDuration(absl::Now() - thawed)
            << " after Vault came back\n";

  // Ready means the listener presents the serving certificate written
  // after the material came: the first request succeeds.
  testing::AgentResult result = testing::AgentClient(SleepAgent(**server)).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  (*server)->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
