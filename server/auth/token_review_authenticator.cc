#include "server/auth/token_review_authenticator.h"

#include <openssl/sha.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "server/auth/spiffe.h"

namespace vaultca {
namespace server {
namespace {

using Json = nlohmann::json;

std::string TokenKey(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

// The token's "exp" without verifying anything (the API server verifies);
// only used to bound how long a positive review is cached.
absl::Time UnverifiedExpiry(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return absl::InfinitePast();
  }
  Json claims = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object() || !claims.contains("exp") ||
      !claims["exp"].is_number()) {
    return absl::InfinitePast();
  }
  return absl::FromUnixSeconds(static_cast<int64_t>(claims["exp"].get<double>()));
}

// The first string of user.extra[key], or "".
std::string Extra(const Json& user, const char* key) {
  auto extra = user.find("extra");
  if (extra == user.end() || !extra->is_object()) return "";
  auto values = extra->find(key);
  if (values == extra->end() || !values->is_array() || values->empty() ||
      !(*values)[0].is_string()) {
    return "";
  }
  return (*values)[0].get<std::string>();
}

}  // namespace

TokenReviewAuthenticator::TokenReviewAuthenticator(
    std::shared_ptr<const KubeApiClient> api, TokenReviewOptions options)
    : api_(std::move(api)), options_(std::move(options)) {}

int64_t TokenReviewAuthenticator::reviews() const {
  MutexLock lock(&mu_);
  return reviews_;
}

absl::StatusOr<Caller> TokenReviewAuthenticator::Authenticate(
    const AuthRequest& request) {
  if (request.bearer_token.empty()) {
    return absl::UnauthenticatedError("no bearer token");
  }
  const std::string key = TokenKey(request.bearer_token.view());
  const absl::Time now = options_.clock();
  {
    MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (now < it->second.expires) return it->second.caller;
      cache_.erase(it);
    }
    ++reviews_;
  }
  absl::StatusOr<Caller> caller = Review(request.bearer_token);
  if (caller.ok()) {
    Remember(key, *caller, UnverifiedExpiry(request.bearer_token.view()));
  }
  return caller;
}

absl::StatusOr<Caller> TokenReviewAuthenticator::Review(
    const SecretData& token) const {
  // A JWT is base64url parts joined by dots: anything else is not a token,
  // and checking this first lets the token go into the body unescaped.
  for (char c : token.view()) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return absl::UnauthenticatedError("bearer token is not a JWT");
  }
  // Assembled in a wiping buffer: the body carries the caller's token.
  SecretData body(R"({"apiVersion":"authentication.k8s.io/v1",)"
                  R"("kind":"TokenReview","spec":{"token":")");
  body.Append(token.view());
  body.Append(absl::StrCat(R"(","audiences":)",
                           Json(options_.audiences).dump(), "}}"));
  absl::StatusOr<KubeApiResponse> response = api_->Post(
      "/apis/authentication.k8s.io/v1/tokenreviews", body.view());
  if (!response.ok()) return response.status();
  if (response->http_status != 200 && response->http_status != 201) {
    return absl::UnavailableError(absl::StrCat(
        "TokenReview failed with HTTP ", response->http_status,
        "; vaultca-server's service account needs the system:auth-delegator "
        "cluster role"));
  }
  Json answer = Json::parse(response->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("status") ||
      !answer["status"].is_object()) {
    return absl::UnavailableError("TokenReview answer has no status");
  }
  const Json& status = answer["status"];
  if (!status.contains("authenticated") ||
      !status["authenticated"].is_boolean() ||
      !status["authenticated"].get<bool>()) {
    std::string why = "the token is not authenticated";
    if (status.contains("error") && status["error"].is_string()) {
      absl::StrAppend(&why, ": ", status["error"].get<std::string>().substr(0, 200));
    }
    return absl::UnauthenticatedError(why);
  }
  const Json user = status.value("user", Json::object());
  bool service_account = false;
  if (user.contains("groups") && user["groups"].is_array()) {
    for (const Json& group : user["groups"]) {
      if (group == "system:serviceaccounts") service_account = true;
    }
  }
  if (!service_account) {
    return absl::UnauthenticatedError(
        "the token is not a service account token");
  }
  const std::string username =
      user.contains("username") && user["username"].is_string()
          ? user["username"].get<std::string>()
          : std::string();
  absl::StatusOr<ServiceAccountRef> account = ParseServiceAccountUser(username);
  if (!account.ok()) {
    return absl::UnauthenticatedError(
        "TokenReview returned an invalid username");
  }
  Caller caller;
  caller.identities = {SpiffeIdForServiceAccount(options_.trust_domain, *account)};
  caller.authenticator = std::string(Name());
  caller.kube_namespace = account->kube_namespace;
  caller.service_account = account->name;
  caller.pod_name = Extra(user, "authentication.kubernetes.io/pod-name");
  caller.pod_uid = Extra(user, "authentication.kubernetes.io/pod-uid");
  return caller;
}

void TokenReviewAuthenticator::Remember(const std::string& key,
                                        const Caller& caller,
                                        absl::Time token_exp) {
  if (options_.cache_ttl <= absl::ZeroDuration()) return;
  const absl::Time now = options_.clock();
  const absl::Time expires = std::min(now + options_.cache_ttl, token_exp);
  if (expires <= now) return;
  MutexLock lock(&mu_);
  if (static_cast<int>(cache_.size()) >= options_.cache_max_entries) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
    }
    if (static_cast<int>(cache_.size()) >= options_.cache_max_entries) return;
  }
  cache_[key] = Entry{caller, expires};
}

}  // namespace server
}  // namespace vaultca
