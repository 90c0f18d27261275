// vaultca-server over CA material in (a fake) Vault KV: the seed's setup,
// with rotation by `vault kv put` and no restart.

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/sources/vault_kv/testing/fake_kv.h"
#include "ca/sources/vault_kv/vault_kv_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"
#include "testing/test_pki.h"
#include "testing/wait.h"

namespace vaultca {
namespace server {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ServerVaultTest, ServesFromVaultAndRotatesOnKvPut) {
  const std::string dir = testkit::MakeTempDir("server-vault");
  testkit::TestJwtKey key{"k1", "RS256", 0};
  ASSERT_TRUE(
      testkit::WriteTestFile(dir + "/jwks.json", testkit::JwksJson({key}))
          .ok());
  const ca::CaMaterialPem root = testkit::Root();
  const ca::CaMaterialPem first =
      testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 0);
  const ca::CaMaterialPem second =
      testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 1);
  ca::testing::FakeKv kv;
  kv.PutMaterial(first, /*with_chain_and_root=*/true);
  ca::VaultKvSourceOptions refs;
  refs.cert_ref = "vault:secret/data/pki/istiod#certificate";
  refs.key_ref = "vault:secret/data/pki/istiod#privateKey";
  refs.chain_ref = "vault:secret/data/pki/istiod#certChain";
  refs.root_ref = "vault:secret/data/pki/istiod#rootCert";
  auto source = ca::VaultKvSource::New(kv.NewClient(), refs);
  ASSERT_TRUE(source.ok()) << source.status();

  ServerConfig config;
  config.listen.grpc_address = "127.0.0.1:0";
  config.listen.http_address = "";
  config.ca.refresh_interval = absl::Milliseconds(200);
  config.ca.root_cert_file = dir + "/root-cert.pem";
  config.serving.cert_dir = dir + "/serving";
  config.auth.jwt = {{"https://kubernetes.default.svc.cluster.local",
                      dir + "/jwks.json",
                      {"istio-ca"}}};
  ServerDependencies deps;
  deps.source = *std::move(source);
  deps.maintenance_interval = absl::Milliseconds(100);
  auto server = VaultcaServer::Start(config, std::move(deps));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(ReadFile(dir + "/root-cert.pem"), root.root_bundle_pem);

  testing::AgentOptions options;
  options.address = absl::StrCat("127.0.0.1:", (*server)->grpc_port());
  options.root_cert_pem = ReadFile(dir + "/root-cert.pem");
  options.token = testkit::SignJwt(key, testkit::SaClaimsJson({}));
  options.key_type = ca::KeyType::kEcP256;
  testing::AgentClient agent(options);
  testing::AgentResult result = agent.Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  EXPECT_EQ(result.cert_chain[1], first.cert_pem);

  // Vault goes down: signing goes on with the last good material.
  kv.SetDown(true);
  ASSERT_TRUE(testkit::WaitFor(
      [&] { return (*server)->ca().Stats().failures.fetch > 0; }));
  result = agent.Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  EXPECT_GT((*server)->ca().Stats().failures.fetch, 0);
  kv.SetDown(false);

  // `vault kv put` a new intermediate: picked up without a restart.
  kv.PutMaterial(second, /*with_chain_and_root=*/true);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (((*server)->ca().Stats().rotations < 1 ||
          (*server)->serving_cert_issues() < 2) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  result = agent.Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  EXPECT_EQ(result.cert_chain[1], second.cert_pem);
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, root.root_bundle_pem).ok());
  EXPECT_GE((*server)->serving_cert_issues(), 2);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
