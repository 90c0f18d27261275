#include "server/kube/kube_api.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/secret_data.h"
#include "server/internal/file_util.h"

namespace vaultca {
namespace server {
namespace {

constexpr size_t kMaxResponseBytes = 4 << 20;

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
// Header lists carry the bearer token: wipe each entry before freeing.
struct SlistDeleter {
  void operator()(curl_slist* list) const {
    for (curl_slist* node = list; node != nullptr; node = node->next) {
      if (node->data != nullptr) {
        ::vaultca::internal::SecureWipe(node->data, std::strlen(node->data));
      }
    }
    curl_slist_free_all(list);
  }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

absl::Status GlobalInit() {
  // Reference-counted and thread-safe in the curl Debian ships (>= 7.84).
  static const CURLcode result = curl_global_init(CURL_GLOBAL_ALL);
  if (result != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init failed: ",
                                            curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (body->size() + n > kMaxResponseBytes) return 0;
  body->append(data, n);
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KubeApiClient>> KubeApiClient::New(
    KubeApiOptions options) {
  if (absl::Status s = GlobalInit(); !s.ok()) return s;
  std::string address = options.api_server;
  if (address.empty()) {
    auto env = options.env ? options.env
                           : [](absl::string_view name)
                                 -> std::optional<std::string> {
      const char* v = std::getenv(std::string(name).c_str());
      if (v == nullptr) return std::nullopt;
      return std::string(v);
    };
    std::optional<std::string> host = env("KUBERNETES_SERVICE_HOST");
    std::optional<std::string> port = env("KUBERNETES_SERVICE_PORT");
    if (!host || host->empty()) {
      return absl::FailedPreconditionError(
          "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is "
          "unset): set auth.token_review.api_server");
    }
    const bool v6 = absl::StrContains(*host, ":");
    address = absl::StrCat("https://", v6 ? "[" : "", *host, v6 ? "]" : "",
                           ":", port && !port->empty() ? *port : "443");
  }
  absl::string_view trimmed = address;
  absl::ConsumeSuffix(&trimmed, "/");
  address = std::string(trimmed);
  if (!absl::StartsWith(address, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Kubernetes API address '", address,
        "' must start with https:// (tokens must not cross in clear text)"));
  }
  if (access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the Kubernetes API CA file ", options.ca_file));
  }
  return std::unique_ptr<KubeApiClient>(
      new KubeApiClient(std::move(options), std::move(address)));
}

KubeApiClient::KubeApiClient(KubeApiOptions options, std::string address)
    : options_(std::move(options)), address_(std::move(address)) {}

absl::StatusOr<KubeApiResponse> KubeApiClient::Get(
    const std::string& path) const {
  return Call("GET", path, nullptr);
}

absl::StatusOr<KubeApiResponse> KubeApiClient::Post(
    const std::string& path, absl::string_view json) const {
  return Call("POST", path, &json);
}

absl::StatusOr<KubeApiResponse> KubeApiClient::Call(
    const char* method, const std::string& path,
    const absl::string_view* body) const {
  absl::StatusOr<std::string> token_text =
      internal::ReadSmallFile(options_.token_file, 64 * 1024);
  if (!token_text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the service-account token for the Kubernetes API: ",
        token_text.status().message()));
  }
  SecretData token(absl::StripAsciiWhitespace(*token_text));
  ::vaultca::internal::SecureWipe(token_text->data(), token_text->size());

  CurlPtr curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  SlistPtr headers;
  auto append = [&headers](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  std::string auth = absl::StrCat("Authorization: Bearer ", token.view());
  append(auth);
  ::vaultca::internal::SecureWipe(auth.data(), auth.size());
  append("Accept: application/json");
  if (body != nullptr) append("Content-Type: application/json");
  const std::string url = absl::StrCat(address_, path);
  KubeApiResponse response;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "Kubernetes API ", method, " ", address_, path, " failed: ",
        curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.http_status);
  return response;
}

}  // namespace server
}  // namespace vaultca
