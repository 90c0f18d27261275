#include "server/auth/internal/jwks_fetch.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/internal/https_request.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {
namespace internal {
namespace {

// JWKS and discovery documents are small; anything bigger is not one.
constexpr size_t kMaxDocumentBytes = 1 << 20;

absl::StatusOr<std::string> Get(const std::string& url,
                                const JwksFetchOptions& options) {
  ::vaultca::internal::HttpsRequestOptions request;
  request.ca_file = options.ca_file;
  request.timeout = options.timeout;
  request.max_response_bytes = kMaxDocumentBytes;
  const std::vector<std::string> headers = {"Accept: application/json"};
  absl::StatusOr<::vaultca::internal::HttpsResponse> response =
      ::vaultca::internal::HttpsRequest("GET", url, headers, nullptr, request);
  if (!response.ok()) return response.status();
  if (response->http_status != 200) {
    return absl::UnavailableError(absl::StrCat(
        "GET ", url, " answered HTTP ", response->http_status));
  }
  return std::move(response->body);
}

// OpenID Connect Discovery 1.0 section 4: the configuration lives at the
// issuer URL (without a trailing slash) + "/.well-known/openid-configuration".
absl::StatusOr<std::string> DiscoverJwksUri(const JwksFetchOptions& options) {
  const std::string url =
      absl::StrCat(absl::StripSuffix(options.issuer, "/"),
                   "/.well-known/openid-configuration");
  absl::StatusOr<std::string> body = Get(url, options);
  if (!body.ok()) return body.status();
  absl::StatusOr<std::string> uri =
      ParseDiscoveryJwksUri(*body, options.issuer);
  if (!uri.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(url, ": ", uri.status().message()));
  }
  return uri;
}

}  // namespace

absl::StatusOr<std::string> ParseDiscoveryJwksUri(absl::string_view document,
                                                  absl::string_view issuer) {
  nlohmann::json doc = nlohmann::json::parse(document, nullptr,
                                             /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  auto claimed = doc.find("issuer");
  if (claimed == doc.end() || !claimed->is_string() ||
      claimed->get_ref<const std::string&>() != issuer) {
    const std::string shown =
        claimed != doc.end() && claimed->is_string()
            ? absl::StrCat("\"",
                           absl::CHexEscape(
                               claimed->get_ref<const std::string&>().substr(
                                   0, 256)),
                           "\"")
            : std::string("missing");
    return absl::InvalidArgumentError(absl::StrCat(
        "the discovery document's \"issuer\" (", shown,
        ") is not the configured issuer ", issuer));
  }
  auto uri = doc.find("jwks_uri");
  if (uri == doc.end() || !uri->is_string() ||
      !absl::StartsWith(uri->get_ref<const std::string&>(), "https://")) {
    return absl::InvalidArgumentError("no https \"jwks_uri\"");
  }
  return uri->get<std::string>();
}

absl::StatusOr<std::shared_ptr<const Jwks>> FetchJwks(
    const JwksFetchOptions& options) {
  std::string url = options.jwks_uri;
  if (url.empty()) {
    absl::StatusOr<std::string> discovered = DiscoverJwksUri(options);
    if (!discovered.ok()) return discovered.status();
    url = *std::move(discovered);
  }
  absl::StatusOr<std::string> body = Get(url, options);
  if (!body.ok()) return body.status();
  absl::StatusOr<std::shared_ptr<const Jwks>> jwks = Jwks::Parse(*body);
  if (!jwks.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(url, ": ", jwks.status().message()));
  }
  return jwks;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
