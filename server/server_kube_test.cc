// vaultca-server with istiod's Kubernetes authentication: TokenReview (with
// its cache) and ztunnel impersonation checked against the API server.

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/sources/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/testing/fake_kube_api.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Token(const std::string& tag) {
  return absl::StrCat(
      absl::WebSafeBase64Escape(R"({"alg":"RS256"})"), ".",
      absl::WebSafeBase64Escape(absl::StrCat(
          R"({"exp":)", absl::ToUnixSeconds(absl::Now() + absl::Hours(1)),
          R"(,"tag":")", tag, R"("})")),
      ".c2ln");
}

TEST(ServerKubeTest, TokenReviewAndImpersonation) {
  const std::string dir = ca::testing::MakeTempDir("server-kube");
  testing::FakeKubeApi kube(dir);
  const std::string sleep_token = Token("sleep");
  const std::string ztunnel_token = Token("ztunnel");
  kube.AddToken(sleep_token, "default", "sleep", "sleep-1", "s-uid");
  kube.AddToken(ztunnel_token, "istio-system", "ztunnel", "zt-1", "zt-uid");
  kube.AddPod("istio-system", "zt-1", "zt-uid", "ztunnel", "node-1");
  kube.AddPod("default", "sleep-1", "s-uid", "sleep", "node-1");
  kube.AddPod("default", "web-1", "w-uid", "web", "node-2");

  ServerConfig config;
  config.listen.grpc_address = "127.0.0.1:0";
  config.listen.http_address = "";
  config.ca.self_signed_dir = dir + "/self-signed";
  config.ca.self_signed_key_type = ca::KeyType::kEcP256;
  config.ca.root_cert_file = dir + "/root-cert.pem";
  config.serving.cert_dir = dir + "/serving";
  config.auth.token_review.enabled = true;
  config.auth.token_review.api_server = kube.address();
  config.auth.token_review.ca_file = kube.ca_file();
  config.auth.token_review.token_file = kube.token_file();
  config.auth.trusted_node_accounts = {"istio-system/ztunnel"};
  auto server = VaultcaServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();

  testing::AgentOptions options;
  options.address = absl::StrCat("127.0.0.1:", (*server)->grpc_port());
  options.root_cert_pem = ReadFile(dir + "/root-cert.pem");
  options.key_type = ca::KeyType::kEcP256;

  // A workload: one review, then the cache answers.
  options.token = sleep_token;
  testing::AgentClient sleep(options);
  for (int i = 0; i < 10; ++i) {
    testing::AgentResult r = sleep.Request();
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << r.message;
  }
  EXPECT_EQ(kube.token_reviews(), 1);

  // ztunnel speaks for a pod on its node...
  options.token = ztunnel_token;
  options.impersonated_identity = "spiffe://cluster.local/ns/default/sa/sleep";
  testing::AgentResult r = testing::AgentClient(options).Request();
  ASSERT_EQ(r.code, grpc::StatusCode::OK) << r.message;
  auto leaf = testing::InspectLeaf(r.cert_chain[0]);
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(leaf->sans,
              ElementsAre("spiffe://cluster.local/ns/default/sa/sleep"));

  // ...but not for one on another node,
  options.impersonated_identity = "spiffe://cluster.local/ns/default/sa/web";
  r = testing::AgentClient(options).Request();
  EXPECT_EQ(r.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(r.message, HasSubstr("node-1"));

  // and a workload may not impersonate at all.
  options.token = sleep_token;
  options.impersonated_identity = "spiffe://cluster.local/ns/default/sa/web";
  r = testing::AgentClient(options).Request();
  EXPECT_EQ(r.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(r.message, HasSubstr("not a trusted node account"));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
