#include "server/kube/internal/pod_store.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

PodInfo Pod(const std::string& name, const std::string& sa,
            const std::string& node, const std::string& phase = "Running",
            const std::string& ns = "default") {
  return PodInfo{ns, name, name + "-uid", sa, node, phase};
}

TEST(PodStoreTest, CountsLivePodsPerNodeAndAccount) {
  PodStore store;
  store.Upsert(Pod("a", "sleep", "n1"));
  store.Upsert(Pod("b", "sleep", "n1"));
  store.Upsert(Pod("c", "sleep", "n2"));
  store.Upsert(Pod("d", "sleep", "n1", "Pending"));
  store.Upsert(Pod("e", "sleep", "", "Running"));
  store.Upsert(Pod("f", "sleep", "n1", "Running", "other"));
  store.Upsert(Pod("g", "sleep", "n1", "Succeeded"));
  store.Upsert(Pod("h", "sleep", "n1", "Failed"));
  EXPECT_EQ(store.size(), 8u);
  // a, b and the Pending d; not the terminated g and h.
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 3);
  EXPECT_EQ(store.CountLive("n2", "default", "sleep"), 1);
  EXPECT_EQ(store.CountLive("n1", "other", "sleep"), 1);
  EXPECT_EQ(store.CountLive("n1", "default", "web"), 0);
  EXPECT_EQ(store.CountLive("", "default", "sleep"), 0);
}

TEST(PodStoreTest, FollowsChangesOfAPod) {
  PodStore store;
  store.Upsert(Pod("a", "sleep", "n1", "Pending"));
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 1);
  store.Upsert(Pod("a", "sleep", "n1", "Running"));
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 1);
  // The same name again with a new uid: replaced, not counted twice.
  PodInfo again = Pod("a", "sleep", "n1");
  again.uid = "new-uid";
  store.Upsert(again);
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 1);
  ASSERT_NE(store.Find("default", "a"), nullptr);
  EXPECT_EQ(store.Find("default", "a")->uid, "new-uid");
  store.Upsert(Pod("a", "sleep", "n1", "Succeeded"));
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 0);
  store.Upsert(Pod("a", "sleep", "n1", "Running"));
  store.Remove("default", "a");
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 0);
  EXPECT_EQ(store.Find("default", "a"), nullptr);
  store.Remove("default", "never-there");
  EXPECT_EQ(store.size(), 0u);
}

TEST(PodStoreTest, SwapReplacesEverything) {
  PodStore store;
  store.Upsert(Pod("a", "sleep", "n1"));
  PodStore fresh;
  fresh.Upsert(Pod("b", "web", "n2"));
  store.swap(fresh);
  EXPECT_EQ(store.Find("default", "a"), nullptr);
  EXPECT_NE(store.Find("default", "b"), nullptr);
  EXPECT_EQ(store.CountLive("n1", "default", "sleep"), 0);
  EXPECT_EQ(store.CountLive("n2", "default", "web"), 1);
}

}  // namespace
}  // namespace internal
}  // namespace server
}  // namespace vaultca
