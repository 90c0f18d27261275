#include "server/kube/testing/fake_kube_api.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "testing/tls.h"

namespace vaultca {
namespace server {
namespace testing {
namespace {

using Json = nlohmann::json;
constexpr char kClientToken[] = "vaultca-server-sa-token";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fake_kube_api: %s\n", what.c_str());
  std::abort();
}

void Write(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) Die("cannot write " + path);
}

}  // namespace

Json FakeKubeApi::PodJson(const Pod& p) {
  return Json{{"kind", "Pod"},
              {"apiVersion", "v1"},
              {"metadata",
               {{"name", p.name},
                {"namespace", p.ns},
                {"uid", p.uid},
                {"resourceVersion", std::to_string(p.resource_version)}}},
              {"spec", {{"serviceAccountName", p.sa}, {"nodeName", p.node}}},
              {"status", {{"phase", p.phase}}}};
}

std::string FakeKubeApi::StatusJson(int code, const std::string& reason,
                                    const std::string& message) {
  return Json({{"kind", "Status"},
               {"apiVersion", "v1"},
               {"status", "Failure"},
               {"reason", reason},
               {"message", message},
               {"code", code}})
      .dump();
}

FakeKubeApi::FakeKubeApi(const std::string& dir) : dir_(dir) {
  // A CA and a serving certificate for 127.0.0.1, made here and now.
  // Its CA lands in ca_file().
  testkit::TlsServerFiles tls =
      testkit::WriteLoopbackTlsServerFiles(dir_, "kube-server");
  Write(token_file(), std::string(kClientToken) + "\n");

  server_ = std::make_unique<httplib::SSLServer>(tls.cert_file.c_str(),
                                                 tls.key_file.c_str());
  if (!server_->is_valid()) Die("SSLServer is not valid");
  // Each open watch holds a thread.
  server_->new_task_queue = [] { return new httplib::ThreadPool(16); };
  Install();
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) Die("cannot bind");
  httplib::SSLServer* raw = server_.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  while (!server_->is_running()) absl::SleepFor(absl::Milliseconds(1));
}

FakeKubeApi::~FakeKubeApi() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeKubeApi::address() const {
  return absl::StrCat("https://127.0.0.1:", port_);
}

void FakeKubeApi::AddToken(const std::string& token, const std::string& ns,
                           const std::string& sa, const std::string& pod_name,
                           const std::string& pod_uid) {
  MutexLock lock(&mu_);
  tokens_[token] = Account{ns, sa, pod_name, pod_uid};
}

void FakeKubeApi::AddPod(const std::string& ns, const std::string& name,
                         const std::string& uid, const std::string& sa,
                         const std::string& node, const std::string& phase) {
  MutexLock lock(&mu_);
  Pod pod{ns, name, uid, sa, node, phase};
  auto it = FindPod(ns, name);
  const bool exists = it != pods_.end();
  Emit(exists ? "MODIFIED" : "ADDED", pod);
  pod.resource_version = resource_version_;
  if (exists) {
    *it = pod;
  } else {
    pods_.push_back(pod);
  }
}

void FakeKubeApi::SetPodPhase(const std::string& ns, const std::string& name,
                              const std::string& phase) {
  MutexLock lock(&mu_);
  auto it = FindPod(ns, name);
  if (it == pods_.end()) return;
  it->phase = phase;
  Emit("MODIFIED", *it);
  it->resource_version = resource_version_;
}

void FakeKubeApi::DeletePod(const std::string& ns, const std::string& name) {
  MutexLock lock(&mu_);
  auto it = FindPod(ns, name);
  if (it == pods_.end()) return;
  Pod gone = *it;
  pods_.erase(it);
  Emit("DELETED", gone);
}

void FakeKubeApi::SetDown(bool down) {
  MutexLock lock(&mu_);
  down_ = down;
}

void FakeKubeApi::ExpireWatches() {
  MutexLock lock(&mu_);
  ++expire_generation_;
  ForgetHistoryLocked();
  changed_.SignalAll();
}

void FakeKubeApi::ForgetHistory() {
  MutexLock lock(&mu_);
  ForgetHistoryLocked();
}

void FakeKubeApi::ForgetHistoryLocked() {
  // As if other objects had changed since: every resourceVersion a client
  // holds is now older than the oldest one that can be watched.
  ++resource_version_;
  oldest_watchable_ = resource_version_;
  events_.clear();
}

void FakeKubeApi::SendGarbage() {
  MutexLock lock(&mu_);
  ++garbage_generation_;
  changed_.SignalAll();
}

void FakeKubeApi::DropWatches() {
  MutexLock lock(&mu_);
  ++drop_generation_;
  changed_.SignalAll();
}

void FakeKubeApi::SendBookmark() {
  MutexLock lock(&mu_);
  ++resource_version_;
  ++bookmark_generation_;
  changed_.SignalAll();
}

bool FakeKubeApi::WaitForWatches(int n, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (open_watches_ < n) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    changed_.WaitWithTimeout(&mu_, deadline - now);
  }
  return true;
}

void FakeKubeApi::Emit(const std::string& type, Pod pod) {
  ++resource_version_;
  pod.resource_version = resource_version_;
  events_.push_back(Event{type, std::move(pod)});
  changed_.SignalAll();
}

std::vector<FakeKubeApi::Pod>::iterator FakeKubeApi::FindPod(
    const std::string& ns, const std::string& name) {
  for (auto it = pods_.begin(); it != pods_.end(); ++it) {
    if (it->ns == ns && it->name == name) return it;
  }
  return pods_.end();
}

int FakeKubeApi::token_reviews() const {
  MutexLock lock(&mu_);
  return token_reviews_;
}

std::vector<std::string> FakeKubeApi::last_audiences() const {
  MutexLock lock(&mu_);
  return last_audiences_;
}

int FakeKubeApi::pod_lists() const {
  MutexLock lock(&mu_);
  return pod_lists_;
}

int FakeKubeApi::pod_watches() const {
  MutexLock lock(&mu_);
  return pod_watches_;
}

int FakeKubeApi::namespaced_pod_reads() const {
  MutexLock lock(&mu_);
  return namespaced_pod_reads_;
}

int FakeKubeApi::open_watches() const {
  MutexLock lock(&mu_);
  return open_watches_;
}

int64_t FakeKubeApi::resource_version() const {
  MutexLock lock(&mu_);
  return resource_version_;
}

void FakeKubeApi::Install() {
  auto refuse = [this](const httplib::Request& req, httplib::Response& res) {
    MutexLock lock(&mu_);
    if (down_) {
      res.status = 503;
      return true;
    }
    if (req.get_header_value("Authorization") !=
        absl::StrCat("Bearer ", kClientToken)) {
      res.status = 401;
      return true;
    }
    return false;
  };
  server_->Post("/apis/authentication.k8s.io/v1/tokenreviews",
                [this, refuse](const httplib::Request& req,
                               httplib::Response& res) {
    if (refuse(req, res)) return;
    Json review = Json::parse(req.body, nullptr, false);
    if (!review.is_object() || !review.contains("spec") ||
        !review["spec"].is_object()) {
      res.status = 400;
      return;
    }
    const std::string token = review["spec"].value("token", "");
    MutexLock lock(&mu_);
    ++token_reviews_;
    last_audiences_ =
        review["spec"].value("audiences", std::vector<std::string>());
    Json status = {{"authenticated", false}};
    auto it = tokens_.find(token);
    if (it != tokens_.end()) {
      const Account& a = it->second;
      Json user = {
          {"username", absl::StrCat("system:serviceaccount:", a.ns, ":", a.sa)},
          {"groups",
           {"system:serviceaccounts",
            absl::StrCat("system:serviceaccounts:", a.ns),
            "system:authenticated"}}};
      if (!a.pod_name.empty()) {
        user["extra"] = {
            {"authentication.kubernetes.io/pod-name", {a.pod_name}},
            {"authentication.kubernetes.io/pod-uid", {a.pod_uid}}};
      }
      status = {{"authenticated", true},
                {"user", user},
                {"audiences", last_audiences_}};
    } else {
      status["error"] = "invalid bearer token";
    }
    res.status = 201;
    res.set_content(Json({{"kind", "TokenReview"}, {"status", status}}).dump(),
                    "application/json");
  });
  server_->Get(R"(/api/v1/namespaces/([^/]+)/pods(/([^/]+))?)",
               [this, refuse](const httplib::Request& req,
                              httplib::Response& res) {
    if (refuse(req, res)) return;
    const std::string ns = req.matches[1];
    const std::string name = req.matches.size() > 3 ? std::string(req.matches[3])
                                                    : std::string();
    std::string node_filter;
    const std::string selector = req.get_param_value("fieldSelector");
    if (selector.rfind("spec.nodeName=", 0) == 0) {
      node_filter = selector.substr(14);
    }
    MutexLock lock(&mu_);
    ++namespaced_pod_reads_;
    if (!name.empty()) {
      for (const Pod& p : pods_) {
        if (p.ns == ns && p.name == name) {
          res.set_content(PodJson(p).dump(), "application/json");
          return;
        }
      }
      res.status = 404;
      res.set_content(StatusJson(404, "NotFound", "pod not found"),
                      "application/json");
      return;
    }
    Json items = Json::array();
    for (const Pod& p : pods_) {
      if (p.ns == ns && (node_filter.empty() || p.node == node_filter)) {
        items.push_back(PodJson(p));
      }
    }
    res.set_content(
        Json({{"kind", "PodList"},
              {"metadata",
               {{"resourceVersion", std::to_string(resource_version_)}}},
              {"items", items}})
            .dump(),
        "application/json");
  });
  server_->Get("/api/v1/pods", [this, refuse](const httplib::Request& req,
                                              httplib::Response& res) {
    if (refuse(req, res)) return;
    if (req.get_param_value("watch") == "1" ||
        req.get_param_value("watch") == "true") {
      Watch(req, res);
      return;
    }
    // LIST, paged: the continue token is the offset of the next page.
    MutexLock lock(&mu_);
    ++pod_lists_;
    size_t limit = pods_.size();
    if (req.has_param("limit")) {
      limit = std::max(1, std::atoi(req.get_param_value("limit").c_str()));
    }
    size_t offset = 0;
    if (req.has_param("continue")) {
      offset = std::strtoul(req.get_param_value("continue").c_str(), nullptr,
                            10);
    }
    Json items = Json::array();
    for (size_t i = offset; i < pods_.size() && i < offset + limit; ++i) {
      items.push_back(PodJson(pods_[i]));
    }
    Json metadata = {{"resourceVersion", std::to_string(resource_version_)}};
    if (offset + limit < pods_.size()) {
      metadata["continue"] = std::to_string(offset + limit);
    }
    res.set_content(Json({{"kind", "PodList"},
                          {"apiVersion", "v1"},
                          {"metadata", metadata},
                          {"items", items}})
                        .dump(),
                    "application/json");
  });
}

void FakeKubeApi::Watch(const httplib::Request& req, httplib::Response& res) {
  const int64_t from =
      std::strtoll(req.get_param_value("resourceVersion").c_str(), nullptr, 10);
  int timeout_seconds = 1800;
  if (req.has_param("timeoutSeconds")) {
    timeout_seconds = std::atoi(req.get_param_value("timeoutSeconds").c_str());
  }
  auto cursor = std::make_shared<WatchCursor>();
  {
    MutexLock lock(&mu_);
    ++pod_watches_;
    if (from < oldest_watchable_) {
      res.status = 410;
      res.set_content(StatusJson(410, "Expired", "too old resource version"),
                      "application/json");
      return;
    }
    ++open_watches_;
    changed_.SignalAll();
    cursor->last_sent = from;
    cursor->expire = expire_generation_;
    cursor->garbage = garbage_generation_;
    cursor->drop = drop_generation_;
    cursor->bookmark = bookmark_generation_;
    cursor->end = absl::Now() + absl::Seconds(timeout_seconds);
  }
  res.set_chunked_content_provider(
      "application/json",
      [this, cursor](size_t, httplib::DataSink& sink) {
        std::string out;
        bool end = false;
        {
          MutexLock lock(&mu_);
          if (stopping_ || cursor->drop != drop_generation_) {
            // No final chunk: the client sees the connection cut.
            return false;
          }
          if (cursor->expire != expire_generation_) {
            out = Json({{"type", "ERROR"},
                        {"object", Json::parse(StatusJson(
                                       410, "Expired",
                                       "too old resource version"))}})
                      .dump() +
                  "\n";
            end = true;
          } else if (cursor->garbage != garbage_generation_) {
            cursor->garbage = garbage_generation_;
            out = "{this is not a watch event\n";
          } else {
            for (const Event& e : events_) {
              if (e.pod.resource_version <= cursor->last_sent) continue;
              out += Json({{"type", e.type}, {"object", PodJson(e.pod)}})
                         .dump() +
                     "\n";
              cursor->last_sent = e.pod.resource_version;
            }
            if (cursor->bookmark != bookmark_generation_) {
              cursor->bookmark = bookmark_generation_;
              cursor->last_sent = resource_version_;
              out += Json({{"type", "BOOKMARK"},
                           {"object",
                            {{"kind", "Pod"},
                             {"apiVersion", "v1"},
                             {"metadata",
                              {{"resourceVersion",
                                std::to_string(resource_version_)}}}}}})
                         .dump() +
                     "\n";
            }
            if (out.empty()) {
              if (absl::Now() >= cursor->end) {
                end = true;
              } else {
                changed_.WaitWithTimeout(&mu_, absl::Milliseconds(250));
                // A blank line now and then: the real API server sends
                // nothing, but httplib only notices a client that went away
                // when a write fails, and each open watch holds a thread.
                out = "\n";
              }
            }
          }
        }
        if (!sink.write(out.data(), out.size())) return false;
        if (end) sink.done();
        return true;
      },
      [this](bool) {
        MutexLock lock(&mu_);
        --open_watches_;
        changed_.SignalAll();
      });
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
