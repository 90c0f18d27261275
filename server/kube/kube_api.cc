#include "server/kube/kube_api.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/internal/curl_unique_ptr.h"
#include "common/internal/https_request.h"
#include "common/secret_data.h"
#include "server/internal/file_util.h"

namespace vaultca {
namespace server {
namespace {

constexpr size_t kMaxResponseBytes = 4 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<KubeApiClient>> KubeApiClient::New(
    KubeApiOptions options) {
  if (absl::Status s = ::vaultca::internal::EnsureCurlGlobalInit(); !s.ok()) {
    return s;
  }
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
  return Request("GET", path, nullptr);
}

absl::StatusOr<KubeApiResponse> KubeApiClient::Post(
    const std::string& path, absl::string_view json) const {
  return Request("POST", path, &json);
}

absl::StatusOr<std::vector<std::string>> KubeApiClient::Headers(
    bool has_body, absl::string_view content_type) const {
  absl::StatusOr<std::string> token_text =
      internal::ReadSmallFile(options_.token_file, 64 * 1024);
  if (!token_text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the service-account token for the Kubernetes API: ",
        token_text.status().message()));
  }
  SecretData token(absl::StripAsciiWhitespace(*token_text));
  ::vaultca::internal::SecureWipe(token_text->data(), token_text->size());

  std::vector<std::string> headers = {
      absl::StrCat("Authorization: Bearer ", token.view()),
      "Accept: application/json"};
  if (has_body) {
    headers.push_back(absl::StrCat("Content-Type: ", content_type));
  }
  return headers;
}

absl::StatusOr<KubeApiResponse> KubeApiClient::Request(
    const char* method, const std::string& path,
    const absl::string_view* body, absl::string_view content_type) const {
  absl::StatusOr<std::vector<std::string>> headers =
      Headers(body != nullptr, content_type);
  if (!headers.ok()) return headers.status();
  ::vaultca::internal::HttpsRequestOptions options;
  options.ca_file = options_.ca_file;
  options.timeout = options_.timeout;
  options.max_response_bytes = kMaxResponseBytes;
  absl::StatusOr<::vaultca::internal::HttpsResponse> response =
      ::vaultca::internal::HttpsRequest(
          method, absl::StrCat(address_, path), *headers, body, options);
  ::vaultca::internal::SecureWipe((*headers)[0].data(), (*headers)[0].size());
  if (!response.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "Kubernetes API: ", response.status().message()));
  }
  return KubeApiResponse{response->http_status, std::move(response->body)};
}

absl::StatusOr<long> KubeApiClient::Stream(
    const std::string& path, const KubeStreamOptions& options,
    const std::function<bool(long http_status, absl::string_view piece)>& on_body) const {
  absl::StatusOr<std::vector<std::string>> headers =
      Headers(false, absl::string_view());
  if (!headers.ok()) return headers.status();
  ::vaultca::internal::HttpsStreamOptions stream;
  stream.ca_file = options_.ca_file;
  stream.timeout = options.timeout;
  stream.idle_timeout = options.idle_timeout;
  absl::StatusOr<long> status = ::vaultca::internal::HttpsStream(
      "GET", absl::StrCat(address_, path), *headers, stream,
      options.canceller, on_body);
  ::vaultca::internal::SecureWipe((*headers)[0].data(), (*headers)[0].size());
  if (!status.ok() && status.status().code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(
        absl::StrCat("Kubernetes API: ", status.status().message()));
  }
  return status;
}

}  // namespace server
}  // namespace vaultca
