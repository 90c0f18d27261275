#include "server/kube/testing/real_kube.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace vaultca {
namespace server {
namespace testing {
namespace {

using Json = nlohmann::json;

constexpr absl::Duration kStartTimeout = absl::Seconds(90);

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses the KEY=value lines kube-testbed writes.
std::map<std::string, std::string> ParseEnv(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    out[kv.first] = kv.second;
  }
  return out;
}

absl::StatusOr<std::string> BinDir() {
  const char* dir = std::getenv("VAULTCA_KUBE_BIN_DIR");
  if (dir == nullptr || *dir == '\0') {
    return absl::NotFoundError(
        "VAULTCA_KUBE_BIN_DIR is not set: build the control plane with "
        "tools/kube/build.sh and pass its output (bazel test "
        "--test_env=VAULTCA_KUBE_BIN_DIR=...), or set VAULTCA_ALLOW_NO_KUBE=1 "
        "to skip the real-Kubernetes tests");
  }
  const std::string testbed = absl::StrCat(dir, "/kube-testbed");
  if (access(testbed.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        testbed, " is not an executable file: run tools/kube/build.sh"));
  }
  return std::string(dir);
}

Json ObjectMeta(const std::string& name) {
  return Json{{"name", name}};
}

}  // namespace

bool MissingKubeAllowed() {
  const char* allow = std::getenv("VAULTCA_ALLOW_NO_KUBE");
  return allow != nullptr && std::string(allow) == "1";
}

absl::StatusOr<std::unique_ptr<RealKube>> RealKube::Start() {
  absl::StatusOr<std::string> bin = BinDir();
  if (!bin.ok()) return bin.status();
  std::unique_ptr<RealKube> kube(new RealKube());
  kube->dir_ = testkit::MakeTempDir("real_kube");
  const std::string testbed = absl::StrCat(*bin, "/kube-testbed");
  const std::string dir_flag = absl::StrCat("--dir=", kube->dir_);
  const std::string log = kube->dir_ + "/testbed.log";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string arg0 = testbed;
  std::string arg1 = dir_flag;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, testbed.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", testbed));
  }
  kube->testbed_pid_ = pid;

  const std::string env_file = kube->dir_ + "/env";
  const absl::Time give_up = absl::Now() + kStartTimeout;
  while (access(env_file.c_str(), R_OK) != 0) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      kube->testbed_pid_ = -1;
      return absl::InternalError(absl::StrCat(
          "kube-testbed exited at start:\n", ReadAll(log),
          ReadAll(kube->dir_ + "/kube-apiserver.log").substr(0, 4000)));
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("the API server was not ready within ",
                       absl::FormatDuration(kStartTimeout), ":\n", ReadAll(log)));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::map<std::string, std::string> env = ParseEnv(ReadAll(env_file));
  kube->address_ = env["KUBE_API_SERVER"];
  kube->ca_file_ = env["KUBE_CA_FILE"];
  kube->admin_token_file_ = env["KUBE_ADMIN_TOKEN_FILE"];
  kube->issuer_ = env["KUBE_SA_ISSUER"];
  int64_t ready_ms = 0;
  int apiserver_pid = -1;
  if (!absl::SimpleAtoi(env["KUBE_READY_MS"], &ready_ms) ||
      !absl::SimpleAtoi(env["KUBE_APISERVER_PID"], &apiserver_pid) ||
      kube->address_.empty()) {
    return absl::InternalError(
        absl::StrCat("unexpected kube-testbed env file:\n", ReadAll(env_file)));
  }
  kube->ready_after_ = absl::Milliseconds(ready_ms);
  kube->apiserver_pid_ = apiserver_pid;

  KubeApiOptions options;
  options.api_server = kube->address_;
  options.ca_file = kube->ca_file_;
  options.token_file = kube->admin_token_file_;
  options.timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<KubeApiClient>> admin =
      KubeApiClient::New(options);
  if (!admin.ok()) return admin.status();
  kube->admin_ = std::move(*admin);
  return kube;
}

RealKube::~RealKube() {
  if (testbed_pid_ <= 0) return;
  Thaw();
  kill(testbed_pid_, SIGTERM);
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  int status;
  while (waitpid(testbed_pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > give_up) {
      kill(testbed_pid_, SIGKILL);
      waitpid(testbed_pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<Json> RealKube::Call(const char* method, const std::string& path,
                                    const Json* body,
                                    absl::string_view content_type) const {
  std::string text;
  absl::string_view view;
  if (body != nullptr) {
    text = body->dump();
    view = text;
  }
  absl::StatusOr<KubeApiResponse> response = admin_->Request(
      method, path, body != nullptr ? &view : nullptr, content_type);
  if (!response.ok()) return response.status();
  Json answer = Json::parse(response->body, nullptr, false);
  if (response->http_status < 200 || response->http_status >= 300) {
    std::string message = response->body.substr(0, 500);
    if (answer.is_object() && answer.contains("message") &&
        answer["message"].is_string()) {
      message = answer["message"].get<std::string>();
    }
    const std::string what =
        absl::StrCat(method, " ", path, ": HTTP ", response->http_status, ": ",
                     message);
    if (response->http_status == 404) return absl::NotFoundError(what);
    if (response->http_status == 409) return absl::AlreadyExistsError(what);
    return absl::FailedPreconditionError(what);
  }
  if (answer.is_discarded()) {
    return absl::InternalError(absl::StrCat(method, " ", path,
                                            ": answer is not JSON"));
  }
  return answer;
}

absl::Status RealKube::CreateNamespace(const std::string& name) const {
  const Json body = {{"apiVersion", "v1"},
                     {"kind", "Namespace"},
                     {"metadata", ObjectMeta(name)}};
  return Call("POST", "/api/v1/namespaces", &body).status();
}

absl::Status RealKube::CreateServiceAccount(const std::string& ns,
                                            const std::string& name) const {
  const Json body = {{"apiVersion", "v1"},
                     {"kind", "ServiceAccount"},
                     {"metadata", ObjectMeta(name)}};
  return Call("POST", absl::StrCat("/api/v1/namespaces/", ns, "/serviceaccounts"),
              &body)
      .status();
}

absl::Status RealKube::DeleteServiceAccount(const std::string& ns,
                                            const std::string& name) const {
  return Call("DELETE",
              absl::StrCat("/api/v1/namespaces/", ns, "/serviceaccounts/", name))
      .status();
}

absl::Status RealKube::BindClusterRole(const std::string& binding,
                                       const std::string& cluster_role,
                                       const std::string& ns,
                                       const std::string& name) const {
  const Json body = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRoleBinding"},
      {"metadata", ObjectMeta(binding)},
      {"roleRef",
       {{"apiGroup", "rbac.authorization.k8s.io"},
        {"kind", "ClusterRole"},
        {"name", cluster_role}}},
      {"subjects",
       Json::array({{{"kind", "ServiceAccount"},
                     {"name", name},
                     {"namespace", ns}}})}};
  return Call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
              &body)
      .status();
}

absl::StatusOr<std::string> RealKube::CreatePod(
    const std::string& ns, const std::string& name,
    const std::string& service_account, const std::string& node,
    const std::string& phase) const {
  const Json body = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", ObjectMeta(name)},
      {"spec",
       {{"serviceAccountName", service_account},
        {"nodeName", node},
        // No kubelet runs it; the API server only needs a valid spec.
        {"automountServiceAccountToken", false},
        {"containers",
         Json::array({{{"name", "app"}, {"image", "registry.invalid/app:1"}}})}}}};
  absl::StatusOr<Json> pod =
      Call("POST", absl::StrCat("/api/v1/namespaces/", ns, "/pods"), &body);
  if (!pod.ok()) return pod.status();
  const std::string uid = pod->value("metadata", Json::object()).value("uid", "");
  if (uid.empty()) return absl::InternalError("created pod has no uid");
  if (!phase.empty()) {
    absl::Status set = SetPodPhase(ns, name, phase);
    if (!set.ok()) return set;
  }
  return uid;
}

absl::Status RealKube::SetPodPhase(const std::string& ns,
                                   const std::string& name,
                                   const std::string& phase) const {
  const Json patch = {{"status", {{"phase", phase}}}};
  return Call("PATCH",
              absl::StrCat("/api/v1/namespaces/", ns, "/pods/", name, "/status"),
              &patch, "application/merge-patch+json")
      .status();
}

absl::Status RealKube::DeletePod(const std::string& ns,
                                 const std::string& name) const {
  const Json options = {{"apiVersion", "v1"},
                        {"kind", "DeleteOptions"},
                        {"gracePeriodSeconds", 0}};
  return Call("DELETE", absl::StrCat("/api/v1/namespaces/", ns, "/pods/", name),
              &options)
      .status();
}

absl::StatusOr<std::string> RealKube::RequestToken(
    const std::string& ns, const std::string& name,
    const TokenOptions& options) const {
  Json spec = {{"expirationSeconds", absl::ToInt64Seconds(options.ttl)}};
  if (!options.audiences.empty()) spec["audiences"] = options.audiences;
  if (!options.pod_name.empty()) {
    spec["boundObjectRef"] = {{"apiVersion", "v1"},
                              {"kind", "Pod"},
                              {"name", options.pod_name},
                              {"uid", options.pod_uid}};
  }
  const Json body = {{"apiVersion", "authentication.k8s.io/v1"},
                     {"kind", "TokenRequest"},
                     {"spec", spec}};
  absl::StatusOr<Json> answer =
      Call("POST",
           absl::StrCat("/api/v1/namespaces/", ns, "/serviceaccounts/", name,
                        "/token"),
           &body);
  if (!answer.ok()) return answer.status();
  const std::string token =
      answer->value("status", Json::object()).value("token", "");
  if (token.empty()) return absl::InternalError("TokenRequest gave no token");
  return token;
}

absl::StatusOr<bool> RealKube::Authenticated(
    const std::string& token, const std::vector<std::string>& audiences) const {
  Json spec = {{"token", token}};
  if (!audiences.empty()) spec["audiences"] = audiences;
  const Json body = {{"apiVersion", "authentication.k8s.io/v1"},
                     {"kind", "TokenReview"},
                     {"spec", spec}};
  absl::StatusOr<Json> answer =
      Call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", &body);
  if (!answer.ok()) return answer.status();
  return answer->value("status", Json::object()).value("authenticated", false);
}

absl::Status RealKube::WaitAuthenticated(
    const std::string& token, const std::vector<std::string>& audiences,
    bool want, absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<bool> now = Authenticated(token, audiences);
    if (!now.ok()) return now.status();
    if (*now == want) return absl::OkStatus();
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(absl::StrCat(
          "TokenReview still says authenticated=", *now, " after ",
          absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

absl::StatusOr<double> RealKube::Metric(
    const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& labels) const {
  absl::StatusOr<KubeApiResponse> response = admin_->Get("/metrics");
  if (!response.ok()) return response.status();
  if (response->http_status != 200) {
    return absl::FailedPreconditionError(
        absl::StrCat("GET /metrics: HTTP ", response->http_status));
  }
  double sum = 0;
  for (absl::string_view line :
       absl::StrSplit(response->body, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;
    const size_t close = rest.rfind('}');
    const absl::string_view label_text =
        close == absl::string_view::npos ? "" : rest.substr(0, close + 1);
    bool match = true;
    for (const auto& [key, value] : labels) {
      // Preceded by '{' or ',' so that resource="x" never matches
      // subresource="x".
      const std::string pair = absl::StrCat(key, "=\"", value, "\"");
      if (!absl::StrContains(label_text, absl::StrCat("{", pair)) &&
          !absl::StrContains(label_text, absl::StrCat(",", pair))) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    const absl::string_view number = absl::StripAsciiWhitespace(
        close == absl::string_view::npos ? rest : rest.substr(close + 1));
    double value = 0;
    if (absl::SimpleAtod(number, &value)) sum += value;
  }
  return sum;
}

absl::StatusOr<double> RealKube::Requests(const std::string& resource,
                                          const std::string& verb) const {
  return Metric("apiserver_request_total",
                {{"resource", resource}, {"verb", verb}});
}

void RealKube::Freeze() const {
  if (apiserver_pid_ > 0) kill(apiserver_pid_, SIGSTOP);
}

void RealKube::Thaw() const {
  if (apiserver_pid_ > 0) kill(apiserver_pid_, SIGCONT);
}

absl::StatusOr<std::string> ProjectToken(const std::string& dir,
                                         const std::string& token) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create ", dir));
  }
  absl::Status published = testkit::PublishLikeKubelet(dir, {{"token", token}});
  if (!published.ok()) return published;
  return dir + "/token";
}

absl::Status StartSuiteKube(RealKube** kube) {
  absl::StatusOr<std::unique_ptr<RealKube>> started = RealKube::Start();
  if (!started.ok()) return started.status();
  *kube = started->release();
  return absl::OkStatus();
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
