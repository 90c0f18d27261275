// vaultca-server with mesh.root_configmap on a real kube-apiserver: the
// root bundle it serves reaches istio-ca-root-cert in every namespace, and
// a shutdown hands the lease over.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "gtest/gtest.h"
#include "server/kube/testing/real_kube.h"
#include "server/server.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace server {
namespace {

using testing::RealKube;

TEST(ServerRootConfigMapTest, PublishesTheServedRootAndReleasesTheLease) {
  absl::StatusOr<std::unique_ptr<RealKube>> kube = RealKube::Start();
  if (!kube.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << kube.status();
  ASSERT_TRUE(kube.ok()) << kube.status();
  RealKube& k = **kube;
  ASSERT_TRUE(k.CreateNamespace("istio-system").ok());
  ASSERT_TRUE(k.CreateNamespace("apps").ok());

  const std::string dir = testkit::MakeTempDir("server_root_configmap");
  ServerConfig config;
  config.listen.grpc_address = "127.0.0.1:0";
  config.listen.http_address = "";
  ca::SelfSignedSourceConfig& self_signed =
      config.ca.source_options.Mutable<ca::SelfSignedSourceConfig>();
  self_signed.state_dir = dir + "/self-signed";
  self_signed.key_type = ca::KeyType::kEcP256;
  config.serving.cert_dir = dir + "/serving";
  config.auth.token_review.enabled = true;
  config.auth.token_review.api_server = k.address();
  config.auth.token_review.ca_file = k.ca_file();
  config.auth.token_review.token_file = k.admin_token_file();
  config.mesh.root_configmap.enabled = true;
  config.mesh.root_configmap.lease_namespace = "istio-system";
  config.mesh.root_configmap.identity = "vaultca-0";
  ASSERT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config);
  auto server = VaultcaServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string root =
      (*server)->ca().CurrentBundle()->root_bundle_pem();
  ASSERT_FALSE(root.empty());

  auto holds = [&](const std::string& ns) {
    absl::StatusOr<nlohmann::json> cm = k.Call(
        "GET", absl::StrCat("/api/v1/namespaces/", ns,
                            "/configmaps/istio-ca-root-cert"));
    return cm.ok() && (*cm)["data"].value("root-cert.pem", "") == root;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!(holds("apps") && holds("default") && holds("istio-system"))) {
    ASSERT_LT(absl::Now(), deadline) << "the root never reached the namespaces";
    absl::SleepFor(absl::Milliseconds(20));
  }

  (*server)->Shutdown(absl::Seconds(1));
  absl::StatusOr<nlohmann::json> lease = k.Call(
      "GET",
      "/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/"
      "vaultca-root-publisher");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", "x"), "");
}

TEST(ServerRootConfigMapTest, NeedsAnIdentityAndALeaseNamespace) {
  ServerConfig config;
  config.mesh.root_configmap.enabled = true;
  EXPECT_FALSE(ValidateServerConfig(config).ok());
  EnvLookup env = [](absl::string_view name) -> std::optional<std::string> {
    if (name == "POD_NAME") return "vaultca-7";
    if (name == "POD_NAMESPACE") return "istio-system";
    return std::nullopt;
  };
  ASSERT_TRUE(ApplyEnvironment(env, &config).ok());
  EXPECT_EQ(config.mesh.root_configmap.identity, "vaultca-7");
  EXPECT_EQ(config.mesh.root_configmap.lease_namespace, "istio-system");
  EXPECT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config);

  absl::StatusOr<ServerConfig> parsed = ParseServerConfig(
      "mesh:\n  root_configmap:\n    enabled: true\n"
      "    namespace_selector: istio-injection=enabled\n"
      "    identity: a\n    lease_namespace: b\n    lease_name: c\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->mesh.root_configmap.enabled);
  EXPECT_EQ(parsed->mesh.root_configmap.namespace_selector,
            "istio-injection=enabled");
  EXPECT_EQ(parsed->mesh.root_configmap.lease_name, "c");
  EXPECT_FALSE(ParseServerConfig("mesh:\n  root_configmap:\n    typo: 1\n").ok());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
