// The root publisher against a real kube-apiserver: every namespace gets
// istio-ca-root-cert, edits and deletions are undone, terminating and
// unselected namespaces are left alone, a new root reaches all, and of two
// replicas exactly one writes until it dies. Writes are counted by the API
// server's own apiserver_request_total. No fakes: the real API server
// produces every condition tested here (a namespace stays Terminating
// because no namespace controller runs).

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/kube/testing/real_kube.h"
#include "server/mesh/root_publisher.h"

namespace vaultca {
namespace server {
namespace {

using Json = nlohmann::json;
using testing::RealKube;

constexpr char kLeaseNamespace[] = "vaultca-system";
constexpr absl::Duration kWait = absl::Seconds(30);

std::string Root(absl::string_view tag) {
  return absl::StrCat("-----BEGIN CERTIFICATE-----\n", tag,
                      "\n-----END CERTIFICATE-----\n");
}

class RootPublisherRealKubeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    start_ = testing::StartSuiteKube(&kube_);
    if (start_.ok()) start_ = kube_->CreateNamespace(kLeaseNamespace);
  }
  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
  }
  void SetUp() override {
    if (!start_.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << start_;
    ASSERT_TRUE(start_.ok()) << start_;
  }

  // Short lease times, so fail-over fits in a test.
  static RootPublisherOptions Options(const std::string& identity,
                                      const std::string& lease) {
    RootPublisherOptions options;
    options.lease_namespace = kLeaseNamespace;
    options.lease_name = lease;
    options.identity = identity;
    options.lease_duration = absl::Seconds(5);
    options.renew_deadline = absl::Seconds(3);
    options.retry_period = absl::Seconds(1);
    return options;
  }

  static std::unique_ptr<RootPublisher> Start(RootPublisherOptions options,
                                              const std::string& root) {
    absl::StatusOr<std::unique_ptr<RootPublisher>> publisher =
        RootPublisher::New(kube_->admin(), std::move(options), root);
    EXPECT_TRUE(publisher.ok()) << publisher.status();
    return publisher.ok() ? *std::move(publisher) : nullptr;
  }

  // The ConfigMap in `ns`; NotFound when there is none.
  static absl::StatusOr<Json> ConfigMap(const std::string& ns) {
    return kube_->Call("GET", absl::StrCat("/api/v1/namespaces/", ns,
                                           "/configmaps/istio-ca-root-cert"));
  }

  // Whether `ns` holds `root` with Istio's label.
  static bool Holds(const std::string& ns, const std::string& root) {
    absl::StatusOr<Json> cm = ConfigMap(ns);
    if (!cm.ok()) return false;
    return (*cm)["data"].value("root-cert.pem", "") == root &&
           (*cm)["metadata"].contains("labels") &&
           (*cm)["metadata"]["labels"].value("istio.io/config", "") == "true";
  }

  template <typename Predicate>
  static bool Eventually(Predicate done, absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  static double Count(const char* resource, const char* verb) {
    absl::StatusOr<double> n = kube_->Requests(resource, verb);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
  // ConfigMap writes of any kind, as the API server counted them.
  static double Writes() {
    return Count("configmaps", "POST") + Count("configmaps", "PUT") +
           Count("configmaps", "PATCH");
  }

  static absl::Status start_;
  static RealKube* kube_;
};

absl::Status RootPublisherRealKubeTest::start_;
RealKube* RootPublisherRealKubeTest::kube_ = nullptr;

TEST_F(RootPublisherRealKubeTest, RefusesIncoherentLeaseTimes) {
  RootPublisherOptions options = Options("a", "bad");
  options.renew_deadline = options.lease_duration;
  EXPECT_EQ(RootPublisher::New(kube_->admin(), options, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options("", "bad");
  EXPECT_EQ(RootPublisher::New(kube_->admin(), options, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RootPublisherRealKubeTest, ExistingAndNewNamespacesGetTheRoot) {
  ASSERT_TRUE(kube_->CreateNamespace("pre-existing").ok());
  const std::string root = Root("one");
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-new-ns"), root);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->WaitConverged(kWait));
  EXPECT_TRUE(Holds("pre-existing", root));
  EXPECT_TRUE(Holds("default", root));

  ASSERT_TRUE(kube_->CreateNamespace("fresh").ok());
  EXPECT_TRUE(Eventually([&] { return Holds("fresh", root); }));
}

TEST_F(RootPublisherRealKubeTest, EditedOrDeletedConfigMapIsRestored) {
  ASSERT_TRUE(kube_->CreateNamespace("tampered").ok());
  const std::string root = Root("two");
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-restore"), root);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Eventually([&] { return Holds("tampered", root); }));
  const std::string path =
      "/api/v1/namespaces/tampered/configmaps/istio-ca-root-cert";

  // Someone else's key survives; the root is put back.
  Json edit = {{"data", {{"root-cert.pem", "junk"}, {"extra", "kept"}}}};
  ASSERT_TRUE(kube_->Call("PATCH", path, &edit, "application/merge-patch+json")
                  .ok());
  ASSERT_TRUE(Eventually([&] { return Holds("tampered", root); }));
  EXPECT_EQ((*ConfigMap("tampered"))["data"].value("extra", ""), "kept");

  // The label Istio selects on is put back.
  Json unlabel = {{"metadata", {{"labels", {{"istio.io/config", nullptr}}}}}};
  ASSERT_TRUE(
      kube_->Call("PATCH", path, &unlabel, "application/merge-patch+json").ok());
  ASSERT_TRUE(Eventually([&] { return Holds("tampered", root); }));

  ASSERT_TRUE(kube_->Call("DELETE", path).ok());
  EXPECT_TRUE(Eventually([&] { return Holds("tampered", root); }));
  EXPECT_EQ(publisher->stats().failures, 0);
}

TEST_F(RootPublisherRealKubeTest, TerminatingNamespacesAreLeftAlone) {
  // Deleted before the publisher starts; no namespace controller runs, so
  // they stay Terminating. One already holds a stale ConfigMap.
  ASSERT_TRUE(kube_->CreateNamespace("doomed").ok());
  ASSERT_TRUE(kube_->CreateNamespace("doomed-stale").ok());
  Json stale = {{"metadata", {{"name", "istio-ca-root-cert"}}},
                {"data", {{"root-cert.pem", "stale"}}}};
  ASSERT_TRUE(kube_->Call("POST", "/api/v1/namespaces/doomed-stale/configmaps",
                          &stale)
                  .ok());
  ASSERT_TRUE(kube_->Call("DELETE", "/api/v1/namespaces/doomed").ok());
  ASSERT_TRUE(kube_->Call("DELETE", "/api/v1/namespaces/doomed-stale").ok());
  absl::StatusOr<Json> doomed = kube_->Call("GET", "/api/v1/namespaces/doomed");
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  ASSERT_EQ((*doomed)["status"].value("phase", ""), "Terminating");

  const std::string root = Root("three");
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-terminating"), root);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->WaitConverged(kWait));
  ASSERT_TRUE(kube_->CreateNamespace("alive").ok());
  ASSERT_TRUE(Eventually([&] { return Holds("alive", root); }));

  EXPECT_EQ(ConfigMap("doomed").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*ConfigMap("doomed-stale"))["data"].value("root-cert.pem", ""),
            "stale");
  EXPECT_EQ(publisher->stats().failures, 0);
}

TEST_F(RootPublisherRealKubeTest, OnlySelectedNamespaces) {
  Json on = {{"metadata",
              {{"name", "selected"}, {"labels", {{"mesh", "on"}}}}}};
  ASSERT_TRUE(kube_->Call("POST", "/api/v1/namespaces", &on).ok());
  ASSERT_TRUE(kube_->CreateNamespace("unselected").ok());

  RootPublisherOptions options = Options("replica-a", "lease-selector");
  options.namespace_selector = "mesh=on";
  const std::string root = Root("four");
  std::unique_ptr<RootPublisher> publisher = Start(options, root);
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->WaitConverged(kWait));
  EXPECT_TRUE(Holds("selected", root));
  EXPECT_EQ(publisher->stats().namespaces, 1);
  EXPECT_EQ(ConfigMap("unselected").status().code(),
            absl::StatusCode::kNotFound);

  // Labelling a namespace brings it in.
  Json label = {{"metadata", {{"labels", {{"mesh", "on"}}}}}};
  ASSERT_TRUE(kube_->Call("PATCH", "/api/v1/namespaces/unselected", &label,
                          "application/merge-patch+json")
                  .ok());
  EXPECT_TRUE(Eventually([&] { return Holds("unselected", root); }));
}

TEST_F(RootPublisherRealKubeTest, NewRootReachesEveryNamespaceOnceAndOnlyOnce) {
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-rotate"), Root("five"));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->WaitConverged(kWait));
  const int namespaces = publisher->stats().namespaces;
  ASSERT_GT(namespaces, 3);

  const double before = Writes();
  publisher->SetRoot(Root("six"));
  ASSERT_TRUE(publisher->WaitConverged(kWait));
  EXPECT_TRUE(Holds("default", Root("six")));
  EXPECT_EQ(Writes() - before, namespaces);

  // The same root again, and a while of watching: no write.
  const double settled = Writes();
  publisher->SetRoot(Root("six"));
  ASSERT_TRUE(publisher->WaitConverged(kWait));
  ASSERT_TRUE(kube_->CreateNamespace("after-rotation").ok());
  ASSERT_TRUE(Eventually([&] { return Holds("after-rotation", Root("six")); }));
  EXPECT_EQ(Writes() - settled, 1);  // the new namespace's, nothing else
  EXPECT_EQ(publisher->stats().conflicts, 0);
}

TEST_F(RootPublisherRealKubeTest, OneOfTwoReplicasWritesAndTheOtherTakesOver) {
  // Neither releases the lease on stop: destroying the leader looks to the
  // API server exactly like a crash (renewals just stop).
  RootPublisherOptions a = Options("replica-a", "lease-failover");
  RootPublisherOptions b = Options("replica-b", "lease-failover");
  a.release_on_stop = b.release_on_stop = false;
  const double before = Writes();
  std::unique_ptr<RootPublisher> first = Start(a, Root("seven"));
  std::unique_ptr<RootPublisher> second = Start(b, Root("seven"));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(first->WaitConverged(kWait));
  ASSERT_TRUE(second->WaitConverged(kWait));
  ASSERT_TRUE(Eventually([&] { return first->IsLeader() || second->IsLeader(); }));
  EXPECT_NE(first->IsLeader(), second->IsLeader());

  std::unique_ptr<RootPublisher>& leader = first->IsLeader() ? first : second;
  std::unique_ptr<RootPublisher>& standby = first->IsLeader() ? second : first;
  const int namespaces = leader->stats().namespaces;
  EXPECT_EQ(Writes() - before, namespaces);
  EXPECT_EQ(standby->stats().creates + standby->stats().updates, 0);
  EXPECT_EQ(leader->stats().updates, namespaces);
  EXPECT_EQ(leader->stats().conflicts + standby->stats().conflicts, 0);

  leader.reset();
  const absl::Time died = absl::Now();
  ASSERT_TRUE(Eventually([&] { return standby->IsLeader(); }, absl::Seconds(15)));
  const absl::Duration failover = absl::Now() - died;
  std::cout << "MEASURED: leader fail-over after the holder died (lease 5s, "
               "retry 1s): "
            << absl::FormatDuration(absl::Trunc(failover, absl::Milliseconds(1)))
            << "\n";
  // As client-go's: the standby sees the last renewal up to one jittered
  // retry late, waits the lease duration from then, and notices the expiry
  // on its next retry.
  EXPECT_LT(failover, absl::Seconds(5) + 2 * absl::Milliseconds(1200) +
                          absl::Milliseconds(500));

  absl::StatusOr<Json> lease = kube_->Call(
      "GET", absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/",
                          kLeaseNamespace, "/leases/lease-failover"));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""),
            standby == first ? "replica-a" : "replica-b");
  EXPECT_EQ((*lease)["spec"].value("leaseTransitions", 0), 1);
  EXPECT_EQ((*lease)["spec"].value("leaseDurationSeconds", 0), 5);

  // The new leader does the writing now.
  const double handed = Writes();
  standby->SetRoot(Root("eight"));
  ASSERT_TRUE(standby->WaitConverged(kWait));
  EXPECT_EQ(Writes() - handed, standby->stats().namespaces);
}

TEST_F(RootPublisherRealKubeTest, LosingTheLeaseStopsWritesAtOnce) {
  ASSERT_TRUE(kube_->CreateNamespace("contested").ok());
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-stolen"), Root("eleven"));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Eventually([&] { return publisher->IsLeader(); }));
  ASSERT_TRUE(publisher->WaitConverged(kWait));

  // Another holder takes the lease (as a replica that believed it expired
  // would): the publisher must step down on its next renewal.
  const std::string lease_path =
      absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/",
                   kLeaseNamespace, "/leases/lease-stolen");
  const std::string now = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  Json steal = {{"spec",
                 {{"holderIdentity", "intruder"},
                  {"renewTime", now},
                  {"acquireTime", now}}}};
  ASSERT_TRUE(kube_->Call("PATCH", lease_path, &steal,
                          "application/merge-patch+json")
                  .ok());
  ASSERT_TRUE(Eventually([&] { return !publisher->IsLeader(); },
                         absl::Seconds(3)));

  const double before = Writes();
  Json edit = {{"data", {{"root-cert.pem", "junk"}}}};
  ASSERT_TRUE(kube_->Call("PATCH",
                          "/api/v1/namespaces/contested/configmaps/"
                          "istio-ca-root-cert",
                          &edit, "application/merge-patch+json")
                  .ok());
  // The publisher has seen the edit, and leaves it while the intruder's
  // lease (5 s, never renewed) lasts.
  ASSERT_TRUE(Eventually([&] { return !publisher->WaitConverged(absl::ZeroDuration()); }));
  EXPECT_FALSE(publisher->WaitConverged(absl::Seconds(2)));
  EXPECT_EQ(Writes() - before, 1);  // the edit alone

  // The intruder never renews: the publisher takes the lease back and
  // restores the root.
  ASSERT_TRUE(Eventually([&] { return publisher->IsLeader(); }, absl::Seconds(15)));
  EXPECT_TRUE(Eventually([&] { return Holds("contested", Root("eleven")); }));
}

TEST_F(RootPublisherRealKubeTest, UnreachableApiServerEndsLeadershipOnTime) {
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-frozen"), Root("eleven"));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Eventually([&] { return publisher->IsLeader(); }));

  // A frozen API server never answers the renewal: by renew_deadline (3 s)
  // the holder must count itself out on its own clock, before another
  // replica could take the lease (5 s).
  kube_->Freeze();
  const absl::Time frozen = absl::Now();
  const bool stepped_down =
      Eventually([&] { return !publisher->IsLeader(); }, absl::Seconds(10));
  const absl::Duration after = absl::Now() - frozen;
  kube_->Thaw();
  ASSERT_TRUE(stepped_down);
  EXPECT_LT(after, absl::Seconds(3) + absl::Milliseconds(500));

  // Nobody else took it: the holder renews once the server answers again.
  EXPECT_TRUE(Eventually([&] { return publisher->IsLeader(); }, absl::Seconds(40)));
}

TEST_F(RootPublisherRealKubeTest, CleanStopHandsOverAtOnce) {
  std::unique_ptr<RootPublisher> first =
      Start(Options("replica-a", "lease-release"), Root("eight"));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(Eventually([&] { return first->IsLeader(); }));
  std::unique_ptr<RootPublisher> second =
      Start(Options("replica-b", "lease-release"), Root("eight"));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->WaitConverged(kWait));
  EXPECT_FALSE(second->IsLeader());

  first.reset();
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(Eventually([&] { return second->IsLeader(); }, absl::Seconds(15)));
  const absl::Duration failover = absl::Now() - stopped;
  std::cout << "MEASURED: hand-over after a clean stop (lease released): "
            << absl::FormatDuration(absl::Trunc(failover, absl::Milliseconds(1)))
            << "\n";
  EXPECT_LT(failover, absl::Seconds(3));
}

TEST_F(RootPublisherRealKubeTest, MeasureTwoHundredNamespaces) {
  constexpr int kNamespaces = 200;
  for (int i = 0; i < kNamespaces; ++i) {
    ASSERT_TRUE(kube_->CreateNamespace(absl::StrCat("scale-", i)).ok());
  }
  struct Counts {
    double cm_post, cm_patch, cm_put, cm_get, cm_list, cm_watch;
    double ns_list, ns_watch, lease_get, lease_write;
  };
  auto counts = [] {
    return Counts{Count("configmaps", "POST"),  Count("configmaps", "PATCH"),
                  Count("configmaps", "PUT"),   Count("configmaps", "GET"),
                  Count("configmaps", "LIST"),  Count("configmaps", "WATCH"),
                  Count("namespaces", "LIST"),  Count("namespaces", "WATCH"),
                  Count("leases", "GET"),
                  Count("leases", "POST") + Count("leases", "PUT")};
  };
  const Counts before = counts();
  const absl::Time start = absl::Now();
  std::unique_ptr<RootPublisher> publisher =
      Start(Options("replica-a", "lease-scale"), Root("nine"));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->WaitConverged(absl::Minutes(2)));
  const absl::Duration took = absl::Now() - start;
  const Counts after = counts();
  const RootPublisher::Stats stats = publisher->stats();

  std::cout << "MEASURED: " << stats.namespaces << " namespaces ("
            << kNamespaces << " without the ConfigMap) reached from a cold "
            << "start in " << absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1)))
            << "; API calls by the API server's count: configmaps POST "
            << after.cm_post - before.cm_post << ", PATCH "
            << after.cm_patch - before.cm_patch << ", PUT "
            << after.cm_put - before.cm_put << ", GET "
            << after.cm_get - before.cm_get << ", LIST "
            << after.cm_list - before.cm_list << ", WATCH "
            << after.cm_watch - before.cm_watch << "; namespaces LIST "
            << after.ns_list - before.ns_list << ", WATCH "
            << after.ns_watch - before.ns_watch
            << " (a WATCH is counted when it ends; both are still open)"
            << "; leases GET "
            << after.lease_get - before.lease_get << ", create/update "
            << after.lease_write - before.lease_write << "\n";
  EXPECT_EQ(after.cm_post - before.cm_post, kNamespaces);
  EXPECT_EQ(after.cm_patch - before.cm_patch, stats.namespaces - kNamespaces);
  EXPECT_EQ(after.cm_put - before.cm_put, 0);
  EXPECT_EQ(after.cm_get - before.cm_get, 0);
  EXPECT_EQ(stats.conflicts, 0);

  // Steady state: another root reaches them all, one write each.
  const double writes = Writes();
  const absl::Time rotated = absl::Now();
  publisher->SetRoot(Root("ten"));
  ASSERT_TRUE(publisher->WaitConverged(absl::Minutes(2)));
  std::cout << "MEASURED: a new root reached " << stats.namespaces
            << " namespaces in "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - rotated, absl::Milliseconds(1)))
            << " with " << Writes() - writes << " writes\n";
  EXPECT_EQ(Writes() - writes, stats.namespaces);

  // A replica restarting over the converged cluster (a rolling update)
  // reads and writes nothing.
  publisher.reset();
  const double before_restart = Writes();
  const double lists_before = Count("configmaps", "LIST");
  const absl::Time restarted = absl::Now();
  publisher = Start(Options("replica-b", "lease-scale"), Root("ten"));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Eventually([&] { return publisher->IsLeader(); }));
  ASSERT_TRUE(Eventually([&] {
    return publisher->WaitConverged(absl::ZeroDuration()) &&
           publisher->stats().pending == 0;
  }, absl::Minutes(2)));
  std::cout << "MEASURED: a restarted replica took the lease and checked "
            << publisher->stats().namespaces << " namespaces in "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - restarted, absl::Milliseconds(1)))
            << " with " << Writes() - before_restart << " writes and "
            << Count("configmaps", "LIST") - lists_before
            << " ConfigMap LIST\n";
  EXPECT_EQ(Writes() - before_restart, 0);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
