// What impersonation costs the API server when one ztunnel asks for 500
// workloads on its node at once, before and after the watched pod index,
// against a real kube-apiserver (RealKube), in one run:
//   before: the per-request path (GET the caller's pod, LIST the target
//           namespace's pods on the node), kept below only as the baseline;
//   after:  KubeNodeAuthorizer over PodIndex (one LIST + one WATCH).
// API calls come from the API server's own apiserver_request_total.
// Prints "MEASURED:" lines; asserts counts only, never timings.

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/sync.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/auth/kube_names.h"
#include "server/auth/kube_node_authorizer.h"
#include "server/kube/pod_index.h"
#include "server/kube/testing/pod_reader.h"
#include "server/kube/testing/real_kube.h"

namespace vaultca {
namespace server {
namespace {

using Json = nlohmann::json;

constexpr int kNamespaces = 10;
constexpr int kPodsPerNamespace = 50;  // 500 workloads on the ztunnel's node
constexpr int kOtherNodes = 4;
constexpr int kPodsPerOtherNode = 125;  // 500 more pods elsewhere
constexpr int kSetupThreads = 8;
constexpr char kNode[] = "node-load";

std::string Field(const Json& object, const char* outer, const char* inner) {
  auto o = object.find(outer);
  if (o == object.end() || !o->is_object()) return "";
  auto i = o->find(inner);
  if (i == o->end() || !i->is_string()) return "";
  return i->get<std::string>();
}

// The per-request authorizer this change replaced: for every impersonation,
// GET the caller's pod and LIST the target namespace's pods on its node.
class PerRequestAuthorizer : public ImpersonationAuthorizer {
 public:
  explicit PerRequestAuthorizer(std::shared_ptr<const KubeApiClient> api)
      : api_(std::move(api)) {}

  absl::Status Authorize(const Caller& node,
                         const ServiceAccountRef& target) override {
    absl::StatusOr<Json> pod =
        GetJson(absl::StrCat("/api/v1/namespaces/",
                             EscapePathSegment(node.kube_namespace), "/pods/",
                             EscapePathSegment(node.pod_name)));
    if (!pod.ok()) return pod.status();
    if (Field(*pod, "metadata", "uid") != node.pod_uid ||
        Field(*pod, "spec", "serviceAccountName") != node.service_account) {
      return absl::PermissionDeniedError("caller pod mismatch");
    }
    const std::string node_name = Field(*pod, "spec", "nodeName");
    if (node_name.empty()) {
      return absl::PermissionDeniedError("the caller pod is not on a node");
    }
    absl::StatusOr<Json> pods = GetJson(absl::StrCat(
        "/api/v1/namespaces/", EscapePathSegment(target.kube_namespace),
        "/pods?fieldSelector=spec.nodeName%3D", EscapePathSegment(node_name)));
    if (!pods.ok()) return pods.status();
    auto items = pods->find("items");
    if (items != pods->end() && items->is_array()) {
      for (const Json& item : *items) {
        if (Field(item, "spec", "serviceAccountName") == target.name &&
            Field(item, "spec", "nodeName") == node_name &&
            Field(item, "status", "phase") == "Running") {
          return absl::OkStatus();
        }
      }
    }
    return absl::PermissionDeniedError("no running pod on the node");
  }

 private:
  absl::StatusOr<Json> GetJson(const std::string& path) {
    absl::StatusOr<KubeApiResponse> response = api_->Get(path);
    if (!response.ok()) return response.status();
    if (response->http_status == 404) {
      return absl::PermissionDeniedError("not found");
    }
    if (response->http_status != 200) {
      return absl::UnavailableError(
          absl::StrCat("HTTP ", response->http_status));
    }
    Json body = Json::parse(response->body, nullptr, false);
    if (!body.is_object()) return absl::UnavailableError("not JSON");
    return body;
  }

  const std::shared_ptr<const KubeApiClient> api_;
};

// Runs `count` calls of `fn(i)` at once (each on its own thread, released
// together) and returns each call's duration.
template <typename Fn>
std::vector<absl::Duration> Burst(int count, Fn fn) {
  Mutex mu;
  CondVar go;
  bool released = false;
  std::vector<absl::Duration> took(count);
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      {
        MutexLock lock(&mu);
        while (!released) go.Wait(&mu);
      }
      const absl::Time start = absl::Now();
      fn(i);
      took[i] = absl::Now() - start;
    });
  }
  {
    MutexLock lock(&mu);
    released = true;
    go.SignalAll();
  }
  for (std::thread& t : threads) t.join();
  return took;
}

std::string Quantiles(std::vector<absl::Duration> took) {
  std::sort(took.begin(), took.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * took.size());
    if (i >= took.size()) i = took.size() - 1;
    return absl::ToDoubleMilliseconds(took[i]);
  };
  return absl::StrFormat("p50 %.1f ms, p99 %.1f ms, max %.1f ms", at(0.50),
                         at(0.99), absl::ToDoubleMilliseconds(took.back()));
}

class KubeNodeAuthorizerLoadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_ = testing::StartSuiteKube(&kube_); }
  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
  }
  void SetUp() override {
    if (!setup_.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << setup_;
    ASSERT_TRUE(setup_.ok()) << setup_;
  }

  // The counters settle a moment after the answers reach the client:
  // read until two reads agree.
  static double Settled(const std::string& resource, const std::string& verb) {
    absl::StatusOr<double> last = kube_->Requests(resource, verb);
    for (int i = 0; i < 50; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
      absl::StatusOr<double> now = kube_->Requests(resource, verb);
      if (last.ok() && now.ok() && *now == *last) return *now;
      last = now;
    }
    return last.ok() ? *last : -1;
  }

  static absl::Status setup_;
  static testing::RealKube* kube_;
};

absl::Status KubeNodeAuthorizerLoadTest::setup_;
testing::RealKube* KubeNodeAuthorizerLoadTest::kube_ = nullptr;

// Creates every pod with a pool of threads; the first error, if any.
absl::Status CreatePods(const testing::RealKube& kube,
                        const std::vector<std::vector<std::string>>& pods) {
  Mutex mu;
  absl::Status first;
  std::vector<std::thread> workers;
  for (int w = 0; w < kSetupThreads; ++w) {
    workers.emplace_back([&, w] {
      for (size_t i = w; i < pods.size(); i += kSetupThreads) {
        const std::vector<std::string>& p = pods[i];  // ns, name, sa, node
        absl::StatusOr<std::string> uid = kube.CreatePod(p[0], p[1], p[2], p[3]);
        if (!uid.ok()) {
          MutexLock lock(&mu);
          if (first.ok()) first = uid.status();
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  return first;
}

TEST_F(KubeNodeAuthorizerLoadTest, FiveHundredWorkloadsOnOneNodeAtOnce) {
  absl::StatusOr<std::shared_ptr<const KubeApiClient>> reader =
      testing::NewPodReader(*kube_, "vaultca", "vaultca-server",
                            {"get", "list", "watch"}, absl::Seconds(60));
  ASSERT_TRUE(reader.ok()) << reader.status();

  // The cluster: a ztunnel on kNode; 500 workloads there, each its own
  // service account, over kNamespaces namespaces; 500 more pods (same
  // accounts) spread over other nodes.
  ASSERT_TRUE(kube_->CreateNamespace("ztunnel-ns").ok());
  ASSERT_TRUE(kube_->CreateServiceAccount("ztunnel-ns", "ztunnel").ok());
  absl::StatusOr<std::string> zt_uid =
      kube_->CreatePod("ztunnel-ns", "ztunnel-load", "ztunnel", kNode);
  ASSERT_TRUE(zt_uid.ok()) << zt_uid.status();
  std::vector<ServiceAccountRef> targets;
  std::vector<std::vector<std::string>> pods;
  for (int n = 0; n < kNamespaces; ++n) {
    const std::string ns = absl::StrCat("load-", n);
    ASSERT_TRUE(kube_->CreateNamespace(ns).ok());
    for (int i = 0; i < kPodsPerNamespace; ++i) {
      const std::string sa = absl::StrCat("wl-", i);
      targets.push_back({ns, sa});
      pods.push_back({ns, absl::StrCat(sa, "-on-node"), sa, kNode});
    }
  }
  {
    std::vector<std::thread> workers;
    Mutex mu;
    absl::Status first;
    for (int w = 0; w < kSetupThreads; ++w) {
      workers.emplace_back([&, w] {
        for (size_t i = w; i < targets.size(); i += kSetupThreads) {
          absl::Status s = kube_->CreateServiceAccount(targets[i].kube_namespace,
                                                       targets[i].name);
          MutexLock lock(&mu);
          if (!s.ok() && first.ok()) first = s;
        }
      });
    }
    for (std::thread& t : workers) t.join();
    ASSERT_TRUE(first.ok()) << first;
  }
  for (int k = 0; k < kOtherNodes; ++k) {
    for (int i = 0; i < kPodsPerOtherNode; ++i) {
      const ServiceAccountRef& sa = targets[(k * kPodsPerOtherNode + i) %
                                            targets.size()];
      pods.push_back({sa.kube_namespace, absl::StrCat(sa.name, "-elsewhere-", k),
                      sa.name, absl::StrCat("node-other-", k)});
    }
  }
  const absl::Time setup_start = absl::Now();
  ASSERT_TRUE(CreatePods(*kube_, pods).ok());
  std::cout << "MEASURED: setup: " << pods.size() + 1 << " pods ("
            << targets.size() << " on " << kNode << " in " << kNamespaces
            << " namespaces, each its own service account) created and set "
               "Running in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - setup_start,
                                                absl::Milliseconds(1)))
            << "\n";

  Caller ztunnel;
  ztunnel.identities = {"spiffe://cluster.local/ns/ztunnel-ns/sa/ztunnel"};
  ztunnel.kube_namespace = "ztunnel-ns";
  ztunnel.service_account = "ztunnel";
  ztunnel.pod_name = "ztunnel-load";
  ztunnel.pod_uid = *zt_uid;
  const int n = static_cast<int>(targets.size());

  struct Phase {
    double gets, lists, watches;
    std::vector<absl::Duration> took;
    std::vector<absl::Status> results;
  };
  auto run = [&](ImpersonationAuthorizer& authorizer) {
    Phase p;
    const double gets = Settled("pods", "GET");
    const double lists = Settled("pods", "LIST");
    const double watches = Settled("pods", "WATCH");
    p.results.resize(n);
    p.took = Burst(n, [&](int i) {
      p.results[i] = authorizer.Authorize(ztunnel, targets[i]);
    });
    p.gets = Settled("pods", "GET") - gets;
    p.lists = Settled("pods", "LIST") - lists;
    p.watches = Settled("pods", "WATCH") - watches;
    return p;
  };
  // "N OK, M <code> (<message>: count, ...)".
  auto outcomes = [](const Phase& p) {
    int ok = 0;
    std::map<std::string, std::map<std::string, int>> failed;
    for (const absl::Status& s : p.results) {
      if (s.ok()) {
        ++ok;
      } else {
        // URLs differ per call; keep what follows the last ": ".
        std::string message(s.message());
        const size_t colon = message.rfind(": ");
        if (colon != std::string::npos) message = message.substr(colon + 2);
        ++failed[absl::StatusCodeToString(s.code())][message];
      }
    }
    std::string text = absl::StrCat(ok, " OK");
    for (const auto& [code, messages] : failed) {
      int total = 0;
      std::string detail;
      for (const auto& [message, count] : messages) {
        total += count;
        absl::StrAppend(&detail, detail.empty() ? "" : "; ", message, ": ",
                        count);
      }
      absl::StrAppend(&text, ", ", total, " ", code, " (", detail, ")");
    }
    return text;
  };
  auto open_watches = [] {
    absl::StatusOr<double> open =
        kube_->Metric("apiserver_longrunning_requests",
                      {{"resource", "pods"}, {"verb", "WATCH"}});
    return open.ok() ? *open : -1;
  };

  // Before: one GET and one LIST per request.
  PerRequestAuthorizer baseline(*reader);
  Phase before = run(baseline);
  std::cout << "MEASURED: before (GET caller pod + LIST namespace pods per "
               "request): "
            << n << " concurrent Authorize: API calls pods GET +"
            << before.gets << ", LIST +" << before.lists << ", WATCH +"
            << before.watches << "; " << Quantiles(before.took) << "; "
            << outcomes(before) << "\n";

  // After: the index, loaded once.
  const double lists_at_start = Settled("pods", "LIST");
  const double watches_open_at_start = open_watches();
  const absl::Time index_start = absl::Now();
  absl::StatusOr<std::unique_ptr<PodIndex>> index = PodIndex::New(*reader);
  ASSERT_TRUE(index.ok()) << index.status();
  std::shared_ptr<PodIndex> shared = *std::move(index);
  ASSERT_TRUE(shared->WaitForSync(absl::Minutes(2)));
  const absl::Duration sync_took = absl::Now() - index_start;
  const double startup_lists = Settled("pods", "LIST") - lists_at_start;
  // The API server's own informers hold pod watches too: count ours only.
  const double watches_opened = open_watches() - watches_open_at_start;
  KubeNodeAuthorizer authorizer(shared);
  Phase after = run(authorizer);
  std::cout << "MEASURED: after (watched pod index): startup LIST +"
            << startup_lists << " (pages of 500), WATCH held open +"
            << watches_opened << ", synced in "
            << absl::FormatDuration(absl::Trunc(sync_took, absl::Milliseconds(1)))
            << "; " << n << " concurrent Authorize: API calls pods GET +"
            << after.gets << ", LIST +" << after.lists << ", WATCH +"
            << after.watches << "; " << Quantiles(after.took) << "; "
            << outcomes(after) << "\n";

  // Counts only. Every baseline call reached the API server at least once;
  // the index made none per request, and every answer was a yes.
  EXPECT_GE(before.gets + before.lists, n);
  EXPECT_EQ(after.gets, 0);
  EXPECT_EQ(after.lists, 0);
  EXPECT_EQ(after.watches, 0);
  for (const absl::Status& s : after.results) ASSERT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace server
}  // namespace vaultca
