// The real control plane the Kubernetes suites share: it starts, the admin
// can create what a cluster would have, and its tokens behave as a
// cluster's do (pod-bound, reviewed, dead once the pod is gone).

#include "server/kube/testing/real_kube.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace testing {
namespace {

// Resident memory of a process in MiB, from /proc (0 when unreadable).
long RssMiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      long kib = 0;
      fields >> kib;
      return kib / 1024;
    }
  }
  return 0;
}

class RealKubeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    start_ = StartSuiteKube(&kube_);
  }
  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
  }
  void SetUp() override {
    if (!start_.ok() && MissingKubeAllowed()) GTEST_SKIP() << start_;
    ASSERT_TRUE(start_.ok()) << start_;
  }

  static absl::Status start_;
  static RealKube* kube_;
};

absl::Status RealKubeTest::start_;
RealKube* RealKubeTest::kube_ = nullptr;

TEST_F(RealKubeTest, StartsAndReportsItsCost) {
  std::cout << "MEASURED: kube-apiserver ready "
            << absl::FormatDuration(kube_->ready_after())
            << " after start (etcd included), RSS "
            << RssMiB(kube_->apiserver_pid()) << " MiB\n";
  absl::StatusOr<nlohmann::json> version = kube_->Call("GET", "/version");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->value("gitVersion", ""), "v1.37.2");
}

TEST_F(RealKubeTest, PodBoundTokenIsReviewedAndDiesWithItsPod) {
  ASSERT_TRUE(kube_->CreateNamespace("kit").ok());
  ASSERT_TRUE(kube_->CreateServiceAccount("kit", "app").ok());
  absl::StatusOr<std::string> uid =
      kube_->CreatePod("kit", "app-1", "app", "node-a");
  ASSERT_TRUE(uid.ok()) << uid.status();
  absl::StatusOr<nlohmann::json> pod =
      kube_->Call("GET", "/api/v1/namespaces/kit/pods/app-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ((*pod)["status"].value("phase", ""), "Running");
  EXPECT_EQ((*pod)["spec"].value("nodeName", ""), "node-a");

  RealKube::TokenOptions options;
  options.audiences = {"istio-ca"};
  options.pod_name = "app-1";
  options.pod_uid = *uid;
  absl::StatusOr<std::string> token =
      kube_->RequestToken("kit", "app", options);
  ASSERT_TRUE(token.ok()) << token.status();

  nlohmann::json review = {
      {"apiVersion", "authentication.k8s.io/v1"},
      {"kind", "TokenReview"},
      {"spec", {{"token", *token}, {"audiences", {"istio-ca"}}}}};
  absl::StatusOr<nlohmann::json> answer = kube_->Call(
      "POST", "/apis/authentication.k8s.io/v1/tokenreviews", &review);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const nlohmann::json& user = (*answer)["status"]["user"];
  EXPECT_EQ(user.value("username", ""), "system:serviceaccount:kit:app");
  EXPECT_EQ(user["extra"]["authentication.kubernetes.io/pod-name"][0], "app-1");
  EXPECT_EQ(user["extra"]["authentication.kubernetes.io/pod-uid"][0], *uid);

  absl::StatusOr<bool> other = kube_->Authenticated(*token, {"vault"});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(*other) << "a token is only good for its audiences";

  ASSERT_TRUE(kube_->DeletePod("kit", "app-1").ok());
  EXPECT_TRUE(kube_->WaitAuthenticated(*token, {"istio-ca"}, false,
                                       absl::Seconds(60))
                  .ok());
}

TEST_F(RealKubeTest, CountsItsOwnRequests) {
  absl::StatusOr<double> before = kube_->Requests("namespaces", "GET");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(kube_->Call("GET", "/api/v1/namespaces/default").ok());
  ASSERT_TRUE(kube_->Call("GET", "/api/v1/namespaces/default").ok());
  absl::StatusOr<double> after = kube_->Requests("namespaces", "GET");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after - *before, 2);
}

TEST_F(RealKubeTest, ProjectedTokenIsSwappedWhole) {
  const std::string dir = kube_->dir() + "/projected";
  absl::StatusOr<std::string> path = ProjectToken(dir, "first");
  ASSERT_TRUE(path.ok()) << path.status();
  ASSERT_TRUE(ProjectToken(dir, "second").ok());
  std::ifstream in(*path);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "second");
}

}  // namespace
}  // namespace testing
}  // namespace server
}  // namespace vaultca
