// vaultca-server with mesh.istiod_certificate (and root_configmap) on a
// real kube-apiserver: istiod's Secret gets a certificate from the CA the
// server serves, with istiod's names and a chain to that root; /metrics
// reports it; a shutdown hands the lease over; a restart over the same CA
// finds the Secret usable and writes nothing.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/testing/real_kube.h"
#include "server/server.h"
#include "server/testing/cert_inspect.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing::RealKube;

constexpr char kSecretPath[] = "/api/v1/namespaces/istio-system/secrets/istiod-tls";

// The PEM blocks of `pem`, one per element.
std::vector<std::string> SplitPem(const std::string& pem) {
  std::vector<std::string> out;
  const std::string kEnd = "-----END CERTIFICATE-----\n";
  for (size_t start = 0; start < pem.size();) {
    const size_t end = pem.find(kEnd, start);
    if (end == std::string::npos) break;
    out.push_back(pem.substr(start, end + kEnd.size() - start));
    start = end + kEnd.size();
  }
  return out;
}

template <typename Predicate>
bool Eventually(Predicate done, absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

TEST(ServerIstiodCertTest, IssuesIstiodsCertificateFromTheServedCa) {
  absl::StatusOr<std::unique_ptr<RealKube>> kube = RealKube::Start();
  if (!kube.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << kube.status();
  ASSERT_TRUE(kube.ok()) << kube.status();
  RealKube& k = **kube;
  ASSERT_TRUE(k.CreateNamespace("istio-system").ok());

  const std::string dir = testkit::MakeTempDir("server_istiod_cert");
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
  config.mesh.leader_election.lease_namespace = "istio-system";
  config.mesh.leader_election.identity = "vaultca-0";
  config.mesh.root_configmap.enabled = true;
  config.mesh.root_configmap.lease_namespace = "istio-system";
  config.mesh.root_configmap.identity = "vaultca-0";
  config.mesh.istiod_certificate.enabled = true;
  config.mesh.istiod_certificate.revisions = {"default", "canary"};
  ASSERT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config);

  auto server = VaultcaServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string root = (*server)->ca().CurrentBundle()->root_bundle_pem();
  ASSERT_FALSE(root.empty());

  std::string tls_crt;
  std::string ca_crt;
  std::string resource_version;
  auto read = [&] {
    absl::StatusOr<nlohmann::json> secret = k.Call("GET", kSecretPath);
    if (!secret.ok()) return false;
    const nlohmann::json& data = (*secret)["data"];
    resource_version = (*secret)["metadata"].value("resourceVersion", "");
    return absl::Base64Unescape(data.value("tls.crt", ""), &tls_crt) &&
           absl::Base64Unescape(data.value("ca.crt", ""), &ca_crt) &&
           (*secret).value("type", "") == "kubernetes.io/tls";
  };
  ASSERT_TRUE(Eventually(read)) << "istiod-tls never appeared";
  EXPECT_EQ(ca_crt, root);
  absl::StatusOr<testing::LeafInfo> leaf = testing::InspectLeaf(tls_crt);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(leaf->sans, UnorderedElementsAre("istiod.istio-system.svc",
                                               "istiod-canary.istio-system.svc"));
  EXPECT_GT(leaf->not_after, absl::Now() + absl::Hours(23));
  // A TLS server certificate that verifies to the root the server serves.
  const std::vector<std::string> chain = SplitPem(tls_crt);
  EXPECT_TRUE(testing::VerifyLeaf(chain, root).ok())
      << testing::VerifyLeaf(chain, root);
  for (const std::string& pem : chain) EXPECT_FALSE(absl::StrContains(root, pem));

  // The leader's check shows in /metrics.
  ASSERT_TRUE(Eventually([&] {
    const std::string text = (*server)->MetricsText();
    return absl::StrContains(text, "vaultca_istiod_cert_writes_total 1\n") &&
           !absl::StrContains(text, "vaultca_istiod_cert_expiry_timestamp 0\n");
  })) << (*server)->MetricsText();

  (*server)->Shutdown(absl::Seconds(1));
  absl::StatusOr<nlohmann::json> lease = k.Call(
      "GET",
      "/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/"
      "vaultca-istiod-cert");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", "x"), "");
  server->reset();

  // The same CA again (the root persists in the state directory): the
  // certificate is usable, so nothing is written.
  const std::string before = resource_version;
  auto again = VaultcaServer::Start(config);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(Eventually([&] {
    return !absl::StrContains((*again)->MetricsText(),
                              "vaultca_istiod_cert_expiry_timestamp 0\n");
  })) << (*again)->MetricsText();
  EXPECT_THAT((*again)->MetricsText(),
              HasSubstr("vaultca_istiod_cert_writes_total 0\n"));
  ASSERT_TRUE(read());
  EXPECT_EQ(resource_version, before);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
