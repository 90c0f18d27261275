// vaultca-server with istiod's Kubernetes authentication against a real
// kube-apiserver (tools/kube/): workloads' pod-bound tokens checked with
// TokenReview (and its cache, counted by the API server's own metrics), and
// ztunnel's impersonation checked against real Pods.
//
// Fails when the control plane is missing unless VAULTCA_ALLOW_NO_KUBE=1.

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"
#include "server/kube/testing/real_kube.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RealKube;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A token of ns/sa bound to pod ns/pod with `uid`, audience istio-ca (what
// kubelet projects as istio-token).
std::string IstioToken(const RealKube& kube, const std::string& ns,
                       const std::string& sa, const std::string& pod,
                       const std::string& uid) {
  RealKube::TokenOptions options;
  options.audiences = {"istio-ca"};
  options.pod_name = pod;
  options.pod_uid = uid;
  absl::StatusOr<std::string> token = kube.RequestToken(ns, sa, options);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

TEST(ServerKubeTest, TokenReviewAndImpersonation) {
  absl::StatusOr<std::unique_ptr<RealKube>> kube = RealKube::Start();
  if (!kube.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << kube.status();
  ASSERT_TRUE(kube.ok()) << kube.status();
  RealKube& k = **kube;
  ASSERT_TRUE(k.CreateNamespace("istio-system").ok());  // "default" exists
  for (const auto& [ns, sa] : std::vector<std::pair<std::string, std::string>>{
           {"istio-system", "vaultca"},
           {"istio-system", "ztunnel"},
           {"default", "sleep"},
           {"default", "web"}}) {
    ASSERT_TRUE(k.CreateServiceAccount(ns, sa).ok());
  }
  // vaultca-server's own account: reviews and the pod index, as its chart
  // grants them.
  ASSERT_TRUE(k.BindClusterRole("vaultca-tokenreview", "system:auth-delegator",
                                "istio-system", "vaultca")
                  .ok());
  const nlohmann::json pod_reader = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRole"},
      {"metadata", {{"name", "vaultca-pods"}}},
      {"rules",
       nlohmann::json::array({{{"apiGroups", {""}},
                               {"resources", {"pods"}},
                               {"verbs", {"get", "list", "watch"}}}})}};
  ASSERT_TRUE(k.Call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                     &pod_reader)
                  .ok());
  ASSERT_TRUE(
      k.BindClusterRole("vaultca-pods", "vaultca-pods", "istio-system", "vaultca")
          .ok());
  absl::StatusOr<std::string> zt_uid =
      k.CreatePod("istio-system", "zt-1", "ztunnel", "node-1");
  absl::StatusOr<std::string> sleep_uid =
      k.CreatePod("default", "sleep-1", "sleep", "node-1");
  absl::StatusOr<std::string> web_uid =
      k.CreatePod("default", "web-1", "web", "node-2");
  absl::StatusOr<std::string> vaultca_uid =
      k.CreatePod("istio-system", "vaultca-0", "vaultca", "node-1");
  ASSERT_TRUE(zt_uid.ok() && sleep_uid.ok() && web_uid.ok() && vaultca_uid.ok());

  const std::string dir = testkit::MakeTempDir("server-kube");
  RealKube::TokenOptions own;
  own.pod_name = "vaultca-0";
  own.pod_uid = *vaultca_uid;
  absl::StatusOr<std::string> own_token =
      k.RequestToken("istio-system", "vaultca", own);
  ASSERT_TRUE(own_token.ok()) << own_token.status();
  absl::StatusOr<std::string> own_token_file =
      testing::ProjectToken(dir + "/sa", *own_token);
  ASSERT_TRUE(own_token_file.ok()) << own_token_file.status();

  ServerConfig config;
  config.listen.grpc_address = "127.0.0.1:0";
  config.listen.http_address = "";
  ca::SelfSignedSourceConfig& self_signed =
      config.ca.source_options.Mutable<ca::SelfSignedSourceConfig>();
  self_signed.state_dir = dir + "/self-signed";
  self_signed.key_type = ca::KeyType::kEcP256;
  config.ca.root_cert_file = dir + "/root-cert.pem";
  config.serving.cert_dir = dir + "/serving";
  config.auth.token_review.enabled = true;
  config.auth.token_review.api_server = k.address();
  config.auth.token_review.ca_file = k.ca_file();
  config.auth.token_review.token_file = *own_token_file;
  config.auth.trusted_node_accounts = {"istio-system/ztunnel"};
  auto server = VaultcaServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();

  testing::AgentOptions options;
  options.address = absl::StrCat("127.0.0.1:", (*server)->grpc_port());
  options.root_cert_pem = ReadFile(dir + "/root-cert.pem");
  options.key_type = ca::KeyType::kEcP256;

  // A workload: one review, then the cache answers.
  const std::string sleep_token =
      IstioToken(k, "default", "sleep", "sleep-1", *sleep_uid);
  absl::StatusOr<double> reviews_before = k.Requests("tokenreviews", "POST");
  ASSERT_TRUE(reviews_before.ok()) << reviews_before.status();
  options.token = sleep_token;
  testing::AgentClient sleep(options);
  for (int i = 0; i < 10; ++i) {
    testing::AgentResult r = sleep.Request();
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << r.message;
  }
  absl::StatusOr<double> reviews_after = k.Requests("tokenreviews", "POST");
  ASSERT_TRUE(reviews_after.ok()) << reviews_after.status();
  EXPECT_EQ(*reviews_after - *reviews_before, 1);

  // ztunnel speaks for a pod on its node...
  options.token = IstioToken(k, "istio-system", "ztunnel", "zt-1", *zt_uid);
  options.impersonated_identity = "spiffe://cluster.local/ns/default/sa/sleep";
  testing::AgentResult r = testing::AgentClient(options).Request();
  ASSERT_EQ(r.code, grpc::StatusCode::OK) << r.message;
  auto leaf = testing::InspectLeaf(r.cert_chain[0]);
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(leaf->sans,
              ElementsAre("spiffe://cluster.local/ns/default/sa/sleep"));

  // ...but not for one on another node,
  options.impersonated_identity = "spiffe://cluster.local/ns/default/sa/web";
  // Why is logged; the caller gets istiod's opaque message.
  auto log = std::make_unique<testing::LogCapture>();
  r = testing::AgentClient(options).Request();
  EXPECT_EQ(r.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(r.message, "request impersonation authentication failure");
  EXPECT_THAT(log->text(), HasSubstr("node-1"));

  // and a workload may not impersonate at all.
  options.token = sleep_token;
  options.impersonated_identity = "spiffe://cluster.local/ns/default/sa/web";
  r = testing::AgentClient(options).Request();
  EXPECT_EQ(r.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(r.message, "request impersonation authentication failure");
  EXPECT_THAT(log->text(), HasSubstr("not a trusted node account"));
  log.reset();
  (*server)->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
