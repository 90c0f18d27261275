#include "server/kube/testing/fake_kube_api.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/testing/tls_files.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

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

FakeKubeApi::FakeKubeApi(const std::string& dir) : dir_(dir) {
  // A CA and a serving certificate for 127.0.0.1, made here and now.
  // Its CA lands in ca_file().
  ca::testing::TlsServerFiles tls =
      ca::testing::WriteLoopbackTlsServerFiles(dir_, "kube-server");
  Write(token_file(), std::string(kClientToken) + "\n");

  server_ = std::make_unique<httplib::SSLServer>(tls.cert_file.c_str(),
                                                 tls.key_file.c_str());
  if (!server_->is_valid()) Die("SSLServer is not valid");
  server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  Install();
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) Die("cannot bind");
  httplib::SSLServer* raw = server_.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  while (!server_->is_running()) absl::SleepFor(absl::Milliseconds(1));
}

FakeKubeApi::~FakeKubeApi() {
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
  pods_.push_back(Pod{ns, name, uid, sa, node, phase});
}

void FakeKubeApi::SetDown(bool down) {
  MutexLock lock(&mu_);
  down_ = down;
}

int FakeKubeApi::token_reviews() const {
  MutexLock lock(&mu_);
  return token_reviews_;
}

std::vector<std::string> FakeKubeApi::last_audiences() const {
  MutexLock lock(&mu_);
  return last_audiences_;
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
    auto to_json = [](const Pod& p) {
      return Json{{"metadata", {{"name", p.name}, {"namespace", p.ns},
                                {"uid", p.uid}}},
                  {"spec", {{"serviceAccountName", p.sa},
                            {"nodeName", p.node}}},
                  {"status", {{"phase", p.phase}}}};
    };
    if (!name.empty()) {
      for (const Pod& p : pods_) {
        if (p.ns == ns && p.name == name) {
          res.set_content(to_json(p).dump(), "application/json");
          return;
        }
      }
      res.status = 404;
      return;
    }
    Json items = Json::array();
    for (const Pod& p : pods_) {
      if (p.ns == ns && (node_filter.empty() || p.node == node_filter)) {
        items.push_back(to_json(p));
      }
    }
    res.set_content(Json({{"kind", "PodList"}, {"items", items}}).dump(),
                    "application/json");
  });
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
