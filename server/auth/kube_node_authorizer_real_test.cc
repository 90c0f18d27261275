// The node authorizer and its pod index against a real kube-apiserver
// (RealKube): the index's LIST and WATCH, RBAC as a deployment grants it,
// and pods created, re-created, moved through phases and deleted by the
// API server itself. Skipped when VAULTCA_ALLOW_NO_KUBE=1 and no control
// plane is available.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/kube_node_authorizer.h"
#include "server/kube/internal/pod_informer.h"
#include "server/kube/testing/pod_reader.h"
#include "server/kube/testing/real_kube.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;
using Stats = internal::PodInformer::Stats;

constexpr absl::Duration kWait = absl::Seconds(60);

// Thaws the API server however the test ends.
class Frozen {
 public:
  explicit Frozen(const testing::RealKube* kube) : kube_(kube) {
    kube_->Freeze();
  }
  ~Frozen() { Thaw(); }
  void Thaw() {
    if (kube_ != nullptr) kube_->Thaw();
    kube_ = nullptr;
  }

 private:
  const testing::RealKube* kube_;
};

class KubeNodeAuthorizerRealTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_ = testing::StartSuiteKube(&kube_);
    if (!setup_.ok()) return;
    auto reader = testing::NewPodReader(*kube_, "vaultca", "vaultca-server");
    if (!reader.ok()) {
      setup_ = reader.status();
      return;
    }
    reader_ = new std::shared_ptr<const KubeApiClient>(*std::move(reader));
  }
  static void TearDownTestSuite() {
    delete reader_;
    reader_ = nullptr;
    delete kube_;
    kube_ = nullptr;
  }

  void SetUp() override {
    if (!setup_.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << setup_;
    ASSERT_TRUE(setup_.ok()) << setup_;
    // One namespace and node pair per test: the suite shares one cluster.
    const std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ns_ = absl::AsciiStrToLower(test);
    if (ns_.size() > 50) ns_.resize(50);
    node_ = ns_ + "-node-a";
    other_node_ = ns_ + "-node-b";
    ASSERT_TRUE(kube_->CreateNamespace(ns_).ok());
    for (const char* sa : {"ztunnel", "sleep", "web", "job", "init"}) {
      ASSERT_TRUE(kube_->CreateServiceAccount(ns_, sa).ok());
    }
    absl::StatusOr<std::string> uid =
        kube_->CreatePod(ns_, "ztunnel-1", "ztunnel", node_);
    ASSERT_TRUE(uid.ok()) << uid.status();
    ztunnel_.identities = {
        absl::StrCat("spiffe://cluster.local/ns/", ns_, "/sa/ztunnel")};
    ztunnel_.kube_namespace = ns_;
    ztunnel_.service_account = "ztunnel";
    ztunnel_.pod_name = "ztunnel-1";
    ztunnel_.pod_uid = *uid;
  }

  void TearDown() override {
    authorizer_.reset();
    index_.reset();
  }

  PodIndexOptions FastOptions() {
    PodIndexOptions options;
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(500);
    return options;
  }

  void Start(std::shared_ptr<const KubeApiClient> api,
             PodIndexOptions options) {
    index_ = std::make_shared<internal::PodInformer>(std::move(api), options);
    // No wait for the first LIST, so that "not synced yet" is seen at once.
    authorizer_ =
        std::make_unique<KubeNodeAuthorizer>(index_, absl::ZeroDuration());
  }
  void StartSynced() {
    Start(*reader_, FastOptions());
    ASSERT_TRUE(index_->WaitForSync(kWait));
  }

  // Polls until Authorize answers `code`; the last answer otherwise.
  absl::Status Await(const Caller& caller, const ServiceAccountRef& target,
                     absl::StatusCode code) {
    const absl::Time deadline = absl::Now() + kWait;
    while (true) {
      absl::Status s = authorizer_->Authorize(caller, target);
      if (s.code() == code || absl::Now() >= deadline) return s;
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  static absl::Status setup_;
  static testing::RealKube* kube_;
  static std::shared_ptr<const KubeApiClient>* reader_;

  std::string ns_, node_, other_node_;
  Caller ztunnel_;
  std::shared_ptr<internal::PodInformer> index_;
  std::unique_ptr<KubeNodeAuthorizer> authorizer_;
};

absl::Status KubeNodeAuthorizerRealTest::setup_;
testing::RealKube* KubeNodeAuthorizerRealTest::kube_ = nullptr;
std::shared_ptr<const KubeApiClient>* KubeNodeAuthorizerRealTest::reader_ =
    nullptr;

TEST_F(KubeNodeAuthorizerRealTest, SameNodeAllowedOtherNodeRefused) {
  ASSERT_TRUE(kube_->CreatePod(ns_, "sleep-1", "sleep", node_).ok());
  ASSERT_TRUE(kube_->CreatePod(ns_, "web-1", "web", other_node_).ok());
  StartSynced();
  EXPECT_TRUE(authorizer_->Authorize(ztunnel_, {ns_, "sleep"}).ok());
  absl::Status s = authorizer_->Authorize(ztunnel_, {ns_, "web"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("no pending or running pod of ", ns_,
                                                  "/web on node ", node_)));
}

TEST_F(KubeNodeAuthorizerRealTest, UnknownServiceAccountRefused) {
  StartSynced();
  EXPECT_EQ(authorizer_->Authorize(ztunnel_, {ns_, "nobody"}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(authorizer_->Authorize(ztunnel_, {"no-such-namespace", "sleep"})
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(KubeNodeAuthorizerRealTest, TerminatedPodRefusedPendingPodAllowed) {
  ASSERT_TRUE(kube_->CreatePod(ns_, "job-1", "job", node_, "Succeeded").ok());
  ASSERT_TRUE(kube_->CreatePod(ns_, "init-1", "init", node_, "Pending").ok());
  StartSynced();
  absl::Status s = authorizer_->Authorize(ztunnel_, {ns_, "job"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("no pending or running pod"));
  // Pending: its init containers need the mesh before it runs.
  EXPECT_TRUE(authorizer_->Authorize(ztunnel_, {ns_, "init"}).ok());
}

TEST_F(KubeNodeAuthorizerRealTest, StalePodUidRefused) {
  ASSERT_TRUE(kube_->CreatePod(ns_, "sleep-1", "sleep", node_).ok());
  StartSynced();
  ASSERT_TRUE(authorizer_->Authorize(ztunnel_, {ns_, "sleep"}).ok());

  // The ztunnel pod is deleted and re-created under the same name: a token
  // of the old pod no longer speaks for the node.
  ASSERT_TRUE(kube_->DeletePod(ns_, "ztunnel-1").ok());
  absl::StatusOr<std::string> new_uid =
      kube_->CreatePod(ns_, "ztunnel-1", "ztunnel", node_);
  ASSERT_TRUE(new_uid.ok()) << new_uid.status();
  ASSERT_NE(*new_uid, ztunnel_.pod_uid);
  Caller fresh = ztunnel_;
  fresh.pod_uid = *new_uid;
  EXPECT_TRUE(Await(fresh, {ns_, "sleep"}, absl::StatusCode::kOk).ok());
  absl::Status s = authorizer_->Authorize(ztunnel_, {ns_, "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("uid"));
}

TEST_F(KubeNodeAuthorizerRealTest, IndexFollowsCreateDeleteAndPhase) {
  StartSynced();
  const ServiceAccountRef web{ns_, "web"};
  EXPECT_EQ(authorizer_->Authorize(ztunnel_, web).code(),
            absl::StatusCode::kPermissionDenied);

  ASSERT_TRUE(kube_->CreatePod(ns_, "web-1", "web", node_, "Pending").ok());
  EXPECT_TRUE(Await(ztunnel_, web, absl::StatusCode::kOk).ok());
  ASSERT_TRUE(kube_->SetPodPhase(ns_, "web-1", "Running").ok());
  EXPECT_TRUE(Await(ztunnel_, web, absl::StatusCode::kOk).ok());

  ASSERT_TRUE(kube_->SetPodPhase(ns_, "web-1", "Succeeded").ok());
  EXPECT_EQ(Await(ztunnel_, web, absl::StatusCode::kPermissionDenied).code(),
            absl::StatusCode::kPermissionDenied);

  ASSERT_TRUE(kube_->CreatePod(ns_, "web-2", "web", node_).ok());
  EXPECT_TRUE(Await(ztunnel_, web, absl::StatusCode::kOk).ok());
  ASSERT_TRUE(kube_->DeletePod(ns_, "web-2").ok());
  EXPECT_EQ(Await(ztunnel_, web, absl::StatusCode::kPermissionDenied).code(),
            absl::StatusCode::kPermissionDenied);

  // The caller's own pod going away ends its right to impersonate.
  ASSERT_TRUE(kube_->CreatePod(ns_, "web-3", "web", node_).ok());
  EXPECT_TRUE(Await(ztunnel_, web, absl::StatusCode::kOk).ok());
  ASSERT_TRUE(kube_->DeletePod(ns_, "ztunnel-1").ok());
  absl::Status s = Await(ztunnel_, web, absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not found"));
}

TEST_F(KubeNodeAuthorizerRealTest, AnswersWithoutCallingTheApiServer) {
  ASSERT_TRUE(kube_->CreatePod(ns_, "sleep-1", "sleep", node_).ok());
  StartSynced();
  absl::StatusOr<double> gets = kube_->Requests("pods", "GET");
  absl::StatusOr<double> lists = kube_->Requests("pods", "LIST");
  ASSERT_TRUE(gets.ok() && lists.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(authorizer_->Authorize(ztunnel_, {ns_, "sleep"}).ok());
    ASSERT_FALSE(authorizer_->Authorize(ztunnel_, {ns_, "web"}).ok());
  }
  EXPECT_EQ(*kube_->Requests("pods", "GET") - *gets, 0);
  EXPECT_EQ(*kube_->Requests("pods", "LIST") - *lists, 0);
}

TEST_F(KubeNodeAuthorizerRealTest, WithoutWatchRightsNeverSyncs) {
  absl::StatusOr<std::shared_ptr<const KubeApiClient>> getter =
      testing::NewPodReader(*kube_, ns_ + "-rbac", "vaultca-server",
                            {"get"});
  ASSERT_TRUE(getter.ok()) << getter.status();
  Start(*getter, FastOptions());
  ASSERT_TRUE(index_->WaitFor(
      [](const Stats& s) { return s.list_requests >= 2; }, kWait));
  absl::Status s = authorizer_->Authorize(ztunnel_, {ns_, "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("403"));
  EXPECT_THAT(s.message(), HasSubstr("list and watch on pods"));
}

TEST_F(KubeNodeAuthorizerRealTest, FrozenApiServerBeforeSyncIsUnavailable) {
  ASSERT_TRUE(kube_->CreatePod(ns_, "sleep-1", "sleep", node_).ok());
  PodIndexOptions options = FastOptions();
  options.idle_timeout = absl::Seconds(1);
  {
    Frozen frozen(kube_);
    Start(*reader_, options);
    // At least one LIST attempt has hung and been given up.
    ASSERT_TRUE(index_->WaitFor(
        [](const Stats& s) { return s.list_requests >= 2; }, kWait));
    absl::Status s = authorizer_->Authorize(ztunnel_, {ns_, "sleep"});
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(s.message(), HasSubstr("not loaded"));
    EXPECT_FALSE(index_->HasSynced());
  }
  ASSERT_TRUE(index_->WaitForSync(kWait));
  EXPECT_TRUE(authorizer_->Authorize(ztunnel_, {ns_, "sleep"}).ok());
}

TEST_F(KubeNodeAuthorizerRealTest, FrozenApiServerAfterSyncGoesUnavailable) {
  ASSERT_TRUE(kube_->CreatePod(ns_, "sleep-1", "sleep", node_).ok());
  PodIndexOptions options = FastOptions();
  // A healthy watch is silent until the next bookmark (about a minute), so
  // a short idle bound here only makes the test quick: the index re-opens
  // quiet watches, which is harmless.
  options.idle_timeout = absl::Seconds(1);
  options.max_staleness = absl::Seconds(1);
  Start(*reader_, options);
  ASSERT_TRUE(index_->WaitForSync(kWait));
  ASSERT_TRUE(authorizer_->Authorize(ztunnel_, {ns_, "sleep"}).ok());
  {
    Frozen frozen(kube_);
    absl::Status s =
        Await(ztunnel_, {ns_, "sleep"}, absl::StatusCode::kUnavailable);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(s.message(), HasSubstr("out of touch"));
  }
  EXPECT_TRUE(Await(ztunnel_, {ns_, "sleep"}, absl::StatusCode::kOk).ok());
}

TEST_F(KubeNodeAuthorizerRealTest, UnreachableApiServerIsUnavailable) {
  // A port that was just free: nothing listens there.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  KubeApiOptions api;
  api.api_server = absl::StrCat("https://127.0.0.1:", ntohs(addr.sin_port));
  api.ca_file = kube_->ca_file();
  api.token_file = kube_->admin_token_file();
  auto client = KubeApiClient::New(api);
  ASSERT_TRUE(client.ok()) << client.status();
  Start(*std::move(client), FastOptions());
  ASSERT_TRUE(index_->WaitFor(
      [](const Stats& s) { return s.list_requests >= 2; }, kWait));
  absl::Status s = authorizer_->Authorize(ztunnel_, {ns_, "sleep"});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("not loaded"));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
