// The node authorizer over a pod index fed by the fake API server. The
// same checks against a real kube-apiserver are in
// kube_node_authorizer_real_test.cc.

#include "server/auth/kube_node_authorizer.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/testing/fake_kube_api.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

class KubeNodeAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("node-authorizer");
    kube_ = std::make_unique<testing::FakeKubeApi>(dir_);
    kube_->AddPod("istio-system", "ztunnel-abc", "zt-uid", "ztunnel", "node-1");
    kube_->AddPod("default", "sleep-1", "s-uid", "sleep", "node-1");
    kube_->AddPod("default", "web-1", "w-uid", "web", "node-2");
    kube_->AddPod("default", "job-1", "j-uid", "job", "node-1", "Succeeded");
    kube_->AddPod("istio-system", "ztunnel-new", "zn-uid", "ztunnel", "");
  }

  void Start() {
    KubeApiOptions api;
    api.api_server = kube_->address();
    api.ca_file = kube_->ca_file();
    api.token_file = kube_->token_file();
    auto client = KubeApiClient::New(api);
    ASSERT_TRUE(client.ok()) << client.status();
    PodIndexOptions options;
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(100);
    auto index = PodIndex::New(*std::move(client), options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
    authorizer_ =
        std::make_unique<KubeNodeAuthorizer>(index_, first_sync_wait_);
  }

  void StartSynced() {
    Start();
    ASSERT_TRUE(index_->WaitForSync(kWait));
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

  // Polls until Authorize answers `code`.
  bool EventuallyAnswers(const Caller& caller, const ServiceAccountRef& target,
                         absl::StatusCode code) {
    const absl::Time deadline = absl::Now() + kWait;
    while (authorizer_->Authorize(caller, target).code() != code) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

  std::string dir_;
  std::unique_ptr<testing::FakeKubeApi> kube_;
  // No wait by default, so that "not synced yet" is seen at once.
  absl::Duration first_sync_wait_ = absl::ZeroDuration();
  std::shared_ptr<PodIndex> index_;
  std::unique_ptr<KubeNodeAuthorizer> authorizer_;
};

TEST_F(KubeNodeAuthorizerTest, AllowsAWorkloadOnTheSameNode) {
  StartSynced();
  EXPECT_TRUE(authorizer_->Authorize(Ztunnel(), {"default", "sleep"}).ok());
}

TEST_F(KubeNodeAuthorizerTest, RefusesOtherNodesAndStoppedPods) {
  StartSynced();
  absl::Status s = authorizer_->Authorize(Ztunnel(), {"default", "web"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("no pending or running pod of default/web"));
  EXPECT_THAT(s.message(), HasSubstr("node-1"));
  EXPECT_EQ(authorizer_->Authorize(Ztunnel(), {"default", "job"}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(authorizer_->Authorize(Ztunnel(), {"other", "sleep"}).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(KubeNodeAuthorizerTest, ChecksTheCallerPod) {
  StartSynced();
  Caller caller = Ztunnel();
  caller.pod_uid = "stale-uid";
  absl::Status s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("uid"));

  caller = Ztunnel();
  caller.pod_name = "ztunnel-gone";
  s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("istio-system/ztunnel-gone not found"));

  caller = Ztunnel();
  caller.service_account = "other";
  s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("service account"));

  caller = Ztunnel();
  caller.pod_name = "ztunnel-new";
  caller.pod_uid = "zn-uid";
  s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not on a node"));

  caller = Ztunnel();
  caller.pod_name = "";
  s = authorizer_->Authorize(caller, {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not bound to a pod"));
}

TEST_F(KubeNodeAuthorizerTest, FollowsThePods) {
  StartSynced();
  const ServiceAccountRef web{"default", "web"};
  kube_->AddPod("default", "web-2", "w2-uid", "web", "node-1", "Pending");
  kube_->SetPodPhase("default", "web-2", "Running");
  ASSERT_TRUE(EventuallyAnswers(Ztunnel(), web, absl::StatusCode::kOk));
  kube_->DeletePod("default", "web-2");
  ASSERT_TRUE(
      EventuallyAnswers(Ztunnel(), web, absl::StatusCode::kPermissionDenied));
}

TEST_F(KubeNodeAuthorizerTest, MakesNoApiCallPerRequest) {
  StartSynced();
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(authorizer_->Authorize(Ztunnel(), {"default", "sleep"}).ok());
    ASSERT_FALSE(authorizer_->Authorize(Ztunnel(), {"default", "web"}).ok());
  }
  EXPECT_EQ(kube_->pod_lists(), 1);
  EXPECT_EQ(kube_->pod_watches(), 1);
  EXPECT_EQ(kube_->namespaced_pod_reads(), 0);
}

TEST_F(KubeNodeAuthorizerTest, FirstRequestsWaitForTheFirstList) {
  first_sync_wait_ = kWait;
  Start();
  // No WaitForSync here: the authorizer waits for the index itself.
  EXPECT_TRUE(authorizer_->Authorize(Ztunnel(), {"default", "sleep"}).ok());
}

TEST_F(KubeNodeAuthorizerTest, ApiOutageBeforeSyncIsUnavailable) {
  kube_->SetDown(true);
  Start();
  absl::Status s = authorizer_->Authorize(Ztunnel(), {"default", "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  s = authorizer_->Authorize(Ztunnel(), {"default", "web"});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  kube_->SetDown(false);
  ASSERT_TRUE(index_->WaitForSync(kWait));
  EXPECT_TRUE(authorizer_->Authorize(Ztunnel(), {"default", "sleep"}).ok());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
