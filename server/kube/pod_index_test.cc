// The pod index against the fake API server. The fake stands in for the
// ordinary LIST/WATCH flow here so these tests run without a control
// plane; kube_node_authorizer_real_test checks the same flow against a real
// kube-apiserver. The wire faults below (an ERROR 410 event mid-watch, a
// watch refused with HTTP 410, a line that is not JSON, a stream cut
// mid-body) are ones a real API server cannot be made to produce on
// demand, which is why they are tested against the fake only.

#include "server/kube/pod_index.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/internal/pod_informer.h"
#include "server/kube/testing/fake_kube_api.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;
using Stats = internal::PodInformer::Stats;

constexpr absl::Duration kWait = absl::Seconds(30);

// Polls `done` until it holds; false after `timeout`.
template <typename Predicate>
bool Eventually(Predicate done, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class PodIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("pod-index");
    kube_ = std::make_unique<testing::FakeKubeApi>(dir_);
    KubeApiOptions api;
    api.api_server = kube_->address();
    api.ca_file = kube_->ca_file();
    api.token_file = kube_->token_file();
    auto client = KubeApiClient::New(api);
    ASSERT_TRUE(client.ok()) << client.status();
    api_ = *std::move(client);
    options_.initial_backoff = absl::Milliseconds(10);
    options_.max_backoff = absl::Milliseconds(100);
    kube_->AddPod("istio-system", "ztunnel-a", "zt-uid", "ztunnel", "node-1");
    kube_->AddPod("default", "sleep-1", "s1-uid", "sleep", "node-1");
    kube_->AddPod("default", "web-1", "w1-uid", "web", "node-2");
  }

  void TearDown() override {
    index_.reset();
    kube_.reset();
  }

  internal::PodInformer& Start() {
    index_ = std::make_unique<internal::PodInformer>(api_, options_);
    return *index_;
  }

  internal::PodInformer& StartSynced() {
    internal::PodInformer& index = Start();
    EXPECT_TRUE(index.WaitForSync(kWait));
    EXPECT_TRUE(kube_->WaitForWatches(1, kWait));
    return index;
  }

  // Waits until the index has applied every change the fake has made.
  bool CaughtUp() {
    const std::string want = std::to_string(kube_->resource_version());
    return index_->WaitFor(
        [&](const Stats& s) { return s.resource_version == want; }, kWait);
  }

  std::string dir_;
  std::unique_ptr<testing::FakeKubeApi> kube_;
  std::shared_ptr<const KubeApiClient> api_;
  PodIndexOptions options_;
  std::unique_ptr<internal::PodInformer> index_;
};

TEST_F(PodIndexTest, LoadsEveryPodThenFollowsChanges) {
  internal::PodInformer& index = StartSynced();
  EXPECT_TRUE(index.HasSynced());
  absl::StatusOr<PodInfo> pod = index.GetPod("default", "sleep-1");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->uid, "s1-uid");
  EXPECT_EQ(pod->service_account, "sleep");
  EXPECT_EQ(pod->node, "node-1");
  EXPECT_EQ(pod->phase, "Running");
  EXPECT_EQ(index.GetPod("default", "nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*index.CountLive("node-1", "default", "sleep"), 1);
  EXPECT_EQ(*index.CountLive("node-1", "default", "web"), 0);

  kube_->AddPod("default", "sleep-2", "s2-uid", "sleep", "node-1", "Pending");
  kube_->AddPod("default", "web-2", "w2-uid", "web", "node-1");
  kube_->AddPod("default", "sleep-3", "s3-uid", "sleep", "node-1", "Failed");
  ASSERT_TRUE(CaughtUp());
  // The Pending pod counts (ztunnel asks for it), the Failed one not.
  EXPECT_EQ(*index.CountLive("node-1", "default", "sleep"), 2);
  EXPECT_EQ(*index.CountLive("node-1", "default", "web"), 1);

  kube_->SetPodPhase("default", "sleep-2", "Running");
  kube_->DeletePod("default", "web-2");
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(*index.CountLive("node-1", "default", "sleep"), 2);
  EXPECT_EQ(*index.CountLive("node-1", "default", "web"), 0);
  EXPECT_EQ(index.GetPod("default", "web-2").status().code(),
            absl::StatusCode::kNotFound);

  // All of it from one LIST and one WATCH; never a per-pod read.
  EXPECT_EQ(kube_->pod_lists(), 1);
  EXPECT_EQ(kube_->pod_watches(), 1);
  EXPECT_EQ(kube_->namespaced_pod_reads(), 0);
}

TEST_F(PodIndexTest, ListsInPages) {
  for (int i = 0; i < 7; ++i) {
    kube_->AddPod("batch", "job-" + std::to_string(i), "j-uid", "job", "node-3");
  }
  options_.list_page_size = 3;
  internal::PodInformer& index = StartSynced();
  EXPECT_EQ(kube_->pod_lists(), 4);  // 10 pods, 3 a page
  EXPECT_EQ(index.stats().pods, 10u);
  EXPECT_EQ(*index.CountLive("node-3", "batch", "job"), 7);
}

TEST_F(PodIndexTest, UnavailableUntilTheFirstList) {
  kube_->SetDown(true);
  internal::PodInformer& index = Start();
  ASSERT_TRUE(index.WaitFor([](const Stats& s) { return s.list_requests >= 2; },
                            kWait));
  EXPECT_FALSE(index.HasSynced());
  absl::StatusOr<PodInfo> pod = index.GetPod("default", "sleep-1");
  EXPECT_EQ(pod.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pod.status().message(), HasSubstr("not loaded"));
  EXPECT_THAT(pod.status().message(), HasSubstr("503"));
  EXPECT_EQ(index.CountLive("node-1", "default", "sleep").status().code(),
            absl::StatusCode::kUnavailable);

  kube_->SetDown(false);
  ASSERT_TRUE(index.WaitForSync(kWait));
  EXPECT_TRUE(index.GetPod("default", "sleep-1").ok());
}

// Fault the real API server cannot be made to produce: an ERROR event with
// code 410 in the middle of a watch.
TEST_F(PodIndexTest, ReListsWhenTheWatchExpires) {
  internal::PodInformer& index = StartSynced();
  kube_->ExpireWatches();
  ASSERT_TRUE(index.WaitFor([](const Stats& s) { return s.lists == 2; }, kWait));
  kube_->AddPod("default", "sleep-2", "s2-uid", "sleep", "node-2");
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(*index.CountLive("node-2", "default", "sleep"), 1);
}

// Fault the real API server cannot be made to produce on demand: a watch
// refused with HTTP 410 because its resourceVersion was compacted away
// while the index was disconnected, and a change made in that gap.
TEST_F(PodIndexTest, ReListsWhenItsResourceVersionIsGone) {
  internal::PodInformer& index = StartSynced();
  kube_->SetDown(true);
  kube_->DropWatches();
  ASSERT_TRUE(index.WaitFor([](const Stats& s) { return s.watches >= 2; },
                            kWait));
  kube_->ForgetHistory();
  kube_->DeletePod("default", "sleep-1");  // never sent to the index
  EXPECT_TRUE(index.GetPod("default", "sleep-1").ok());
  kube_->SetDown(false);
  ASSERT_TRUE(index.WaitFor([](const Stats& s) { return s.lists == 2; }, kWait));
  EXPECT_EQ(index.GetPod("default", "sleep-1").status().code(),
            absl::StatusCode::kNotFound);
}

// Fault the real API server cannot be made to produce: a line that is not
// a watch event. Events may have been lost, so the index lists again.
TEST_F(PodIndexTest, ReListsAfterAnUnreadableEvent) {
  internal::PodInformer& index = StartSynced();
  kube_->SendGarbage();
  ASSERT_TRUE(index.WaitFor([](const Stats& s) { return s.lists == 2; }, kWait));
  EXPECT_TRUE(index.GetPod("default", "sleep-1").ok());
}

// Fault the real API server cannot be made to produce: a watch connection
// cut mid-stream. The index resumes from the last resourceVersion it saw,
// without a new LIST.
TEST_F(PodIndexTest, ResumesADroppedWatchWithoutListing) {
  internal::PodInformer& index = StartSynced();
  kube_->DropWatches();
  ASSERT_TRUE(index.WaitFor([](const Stats& s) { return s.watches >= 2; },
                            kWait));
  kube_->AddPod("default", "sleep-2", "s2-uid", "sleep", "node-2");
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(*index.CountLive("node-2", "default", "sleep"), 1);
  EXPECT_EQ(index.stats().lists, 1);
  EXPECT_EQ(kube_->pod_lists(), 1);
}

TEST_F(PodIndexTest, BookmarksMoveTheResourceVersion) {
  internal::PodInformer& index = StartSynced();
  kube_->SendBookmark();
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(index.stats().pods, 3u);
}

TEST_F(PodIndexTest, GoesUnavailableWhenOutOfTouchTooLong) {
  options_.max_staleness = absl::Milliseconds(200);
  internal::PodInformer& index = StartSynced();
  kube_->SetDown(true);
  kube_->DropWatches();
  // Answers from what it has first, then refuses.
  ASSERT_TRUE(Eventually([&] {
    return index.GetPod("default", "sleep-1").status().code() ==
           absl::StatusCode::kUnavailable;
  }));
  absl::Status s = index.CountLive("node-1", "default", "sleep").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("out of touch"));
  EXPECT_TRUE(index.HasSynced());

  kube_->SetDown(false);
  ASSERT_TRUE(Eventually([&] { return index.GetPod("default", "sleep-1").ok(); }));
}

TEST_F(PodIndexTest, StopsWithAWatchOpen) {
  StartSynced();
  index_.reset();
  // The fake notices the client is gone at its next write.
  EXPECT_TRUE(Eventually([&] { return kube_->open_watches() == 0; }));
}

TEST_F(PodIndexTest, NewChecksItsArguments) {
  EXPECT_EQ(PodIndex::New(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  PodIndexOptions bad;
  bad.list_page_size = 0;
  EXPECT_EQ(PodIndex::New(api_, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = PodIndexOptions();
  bad.max_backoff = absl::Milliseconds(1);
  EXPECT_EQ(PodIndex::New(api_, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<PodIndex>> index = PodIndex::New(api_);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE((*index)->WaitForSync(kWait));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
