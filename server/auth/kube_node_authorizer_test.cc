#include "server/auth/kube_node_authorizer.h"

#include <memory>
#include <string>

#include "ca/sources/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/testing/fake_kube_api.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

class KubeNodeAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ca::testing::MakeTempDir("node-authorizer");
    kube_ = std::make_unique<testing::FakeKubeApi>(dir_);
    KubeApiOptions api;
    api.api_server = kube_->address();
    api.ca_file = kube_->ca_file();
    api.token_file = kube_->token_file();
    auto client = KubeApiClient::New(api);
    ASSERT_TRUE(client.ok()) << client.status();
    authorizer_ = std::make_unique<KubeNodeAuthorizer>(*std::move(client));
    kube_->AddPod("istio-system", "ztunnel-abc", "zt-uid", "ztunnel", "node-1");
    kube_->AddPod("default", "sleep-1", "s-uid", "sleep", "node-1");
    kube_->AddPod("default", "web-1", "w-uid", "web", "node-2");
    kube_->AddPod("default", "job-1", "j-uid", "job", "node-1", "Succeeded");
  }

  Caller Ztunnel() {
    Caller c;
    c.identities = {"spiffe://cluster.local/ns/istio-system/sa/ztunnel"};
    c.kube_namespace = "istio-system";
    c.service_account = "ztunnel";
    c.pod_name = "ztunnel-abc";
    c.pod_uid = "zt-uid";
    return c;
  }

  std::string dir_;
  std::unique_ptr<testing::FakeKubeApi> kube_;
  std::unique_ptr<KubeNodeAuthorizer> authorizer_;
};

TEST_F(KubeNodeAuthorizerTest, AllowsAWorkloadOnTheSameNode) {
  EXPECT_TRUE(authorizer_->Authorize(Ztunnel(), {"default", "sleep"}).ok());
}

TEST_F(KubeNodeAuthorizerTest, RefusesOtherNodesAndStoppedPods) {
  absl::Status s = authorizer_->Authorize(Ztunnel(), {"default", "web"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("no running pod of default/web"));
  EXPECT_EQ(authorizer_->Authorize(Ztunnel(), {"default", "job"}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(authorizer_->Authorize(Ztunnel(), {"other", "sleep"}).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(KubeNodeAuthorizerTest, ChecksTheCallerPod) {
  Caller caller = Ztunnel();
  caller.pod_uid = "stale-uid";
  absl::Status s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("uid"));

  caller = Ztunnel();
  caller.pod_name = "ztunnel-gone";
  EXPECT_EQ(authorizer_->Authorize(caller, {"default", "sleep"}).code(),
            absl::StatusCode::kPermissionDenied);

  caller = Ztunnel();
  caller.service_account = "other";
  EXPECT_EQ(authorizer_->Authorize(caller, {"default", "sleep"}).code(),
            absl::StatusCode::kPermissionDenied);

  caller = Ztunnel();
  caller.pod_name = "";
  s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_THAT(s.message(), HasSubstr("not bound to a pod"));
}

TEST_F(KubeNodeAuthorizerTest, ApiOutageIsUnavailable) {
  kube_->SetDown(true);
  EXPECT_EQ(authorizer_->Authorize(Ztunnel(), {"default", "sleep"}).code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
