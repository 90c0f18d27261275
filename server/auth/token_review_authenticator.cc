#include "server/auth/token_review_authenticator.h"

#include <openssl/sha.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/auth/internal/fifo_semaphore.h"
#include "server/auth/internal/token_precheck.h"
#include "server/auth/spiffe.h"

namespace vaultca {
namespace server {
namespace {

using Json = nlohmann::json;

constexpr absl::Duration kSweepInterval = absl::Seconds(1);

std::string TokenKey(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
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

// Makes room in a full cache by dropping expired entries (at most once per
// kSweepInterval). False when it is still full.
template <typename Map>
bool MakeRoom(Map& map, int max_entries, absl::Time now,
              absl::Time* next_sweep) {
  if (static_cast<int>(map.size()) < max_entries) return true;
  if (now < *next_sweep) return false;
  *next_sweep = now + kSweepInterval;
  for (auto it = map.begin(); it != map.end();) {
    it = it->second.expires <= now ? map.erase(it) : std::next(it);
  }
  return static_cast<int>(map.size()) < max_entries;
}

// True when one of `answered` is one of `requested`.
bool Intersects(const Json& answered, const std::vector<std::string>& requested) {
  return std::any_of(answered.begin(), answered.end(), [&](const Json& aud) {
    return aud.is_string() &&
           std::find(requested.begin(), requested.end(),
                     aud.get_ref<const std::string&>()) != requested.end();
  });
}

}  // namespace

TokenReviewAuthenticator::TokenReviewAuthenticator(
    std::shared_ptr<const KubeApiClient> api, TokenReviewOptions options)
    : api_(std::move(api)),
      options_(std::move(options)),
      slots_(std::make_unique<internal::FifoSemaphore>(
          options_.max_concurrent_reviews)) {}

TokenReviewAuthenticator::~TokenReviewAuthenticator() = default;

TokenReviewStats TokenReviewAuthenticator::stats() const {
  TokenReviewStats s;
  s.reviews = reviews_.load();
  s.cache_hits = cache_hits_.load();
  s.negative_cache_hits = negative_cache_hits_.load();
  s.locally_refused = locally_refused_.load();
  s.coalesced = coalesced_.load();
  s.queue_timeouts = queue_timeouts_.load();
  return s;
}

std::optional<absl::StatusOr<Caller>> TokenReviewAuthenticator::Cached(
    const std::string& key, absl::Time now) {
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (now < it->second.expires) {
      ++cache_hits_;
      return it->second.caller;
    }
    cache_.erase(it);
  }
  if (auto it = refused_.find(key); it != refused_.end()) {
    if (now < it->second.expires) {
      ++negative_cache_hits_;
      return it->second.status;
    }
    refused_.erase(it);
  }
  return std::nullopt;
}

absl::StatusOr<Caller> TokenReviewAuthenticator::Authenticate(
    const AuthRequest& request) {
  const absl::string_view token = request.bearer_token.view();
  if (token.empty()) return absl::UnauthenticatedError("no bearer token");
  const absl::Time now = options_.clock();
  // Oversized tokens are refused before they cost a hash.
  std::string key;
  if (token.size() <= internal::kMaxReviewedTokenBytes) {
    key = TokenKey(token);
    MutexLock lock(&mu_);
    if (auto cached = Cached(key, now)) return *std::move(cached);
  }
  // After the cache, so a cached caller does not pay for decoding.
  absl::StatusOr<absl::Time> expiry =
      internal::PrecheckToken(token, now, options_.audiences);
  if (!expiry.ok()) {
    ++locally_refused_;
    return expiry.status();
  }

  std::shared_ptr<Flight> flight;
  {
    MutexLock lock(&mu_);
    // A review of this token may have finished since the lookup above.
    if (auto cached = Cached(key, now)) return *std::move(cached);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      flight = it->second;
    } else {
      flights_[key] = std::make_shared<Flight>();
    }
  }
  if (flight != nullptr) {
    // The leader's wait is bounded (queue timeout plus the API timeout), so
    // this one is too.
    ++coalesced_;
    MutexLock lock(&flight->mu);
    while (!flight->done) flight->done_cv.Wait(&flight->mu);
    return flight->result;
  }

  absl::StatusOr<Caller> result = BoundedReview(request.bearer_token);
  {
    MutexLock lock(&mu_);
    Remember(key, result, *expiry);
    auto it = flights_.find(key);
    flight = std::move(it->second);
    flights_.erase(it);
  }
  {
    MutexLock lock(&flight->mu);
    flight->result = result;
    flight->done = true;
  }
  flight->done_cv.SignalAll();
  return result;
}

absl::StatusOr<Caller> TokenReviewAuthenticator::BoundedReview(
    const SecretData& token) {
  if (!slots_->Acquire(options_.review_queue_timeout)) {
    ++queue_timeouts_;
    return absl::UnavailableError(absl::StrCat(
        "too many TokenReviews in flight (", options_.max_concurrent_reviews,
        "); none finished within ",
        absl::FormatDuration(options_.review_queue_timeout), ", retry"));
  }
  ++reviews_;
  absl::StatusOr<Caller> result = Review(token);
  slots_->Release();
  return result;
}

absl::StatusOr<Caller> TokenReviewAuthenticator::Review(
    const SecretData& token) const {
  // PrecheckToken let only base64url and dots through, so the token goes
  // into the JSON body unescaped. Assembled in a wiping buffer: the body
  // carries the caller's token.
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
      absl::StrAppend(&why, ": ",
                      status["error"].get<std::string>().substr(0, 200));
    }
    return absl::UnauthenticatedError(why);
  }
  // As k8s.io/apiserver's webhook token authenticator: audiences in the
  // answer must meet the requested ones. The API server always reports
  // them when it checked them; an answer without them is taken, as the
  // webhook does, to mean the reviewer's implicit audiences, here the ones
  // requested, and Istio's own TokenReview client accepts it too.
  auto audiences = status.find("audiences");
  if (audiences != status.end() && !audiences->is_null()) {
    if (!audiences->is_array()) {
      return absl::UnavailableError("TokenReview answer has malformed audiences");
    }
    if (!audiences->empty() && !Intersects(*audiences, options_.audiences)) {
      return absl::UnauthenticatedError(
          "the TokenReview answer names none of the requested audiences");
    }
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
  caller.identities = {
      SpiffeIdForServiceAccount(options_.trust_domain, *account)};
  caller.authenticator = std::string(Name());
  caller.kube_namespace = account->kube_namespace;
  caller.service_account = account->name;
  caller.pod_name = Extra(user, "authentication.kubernetes.io/pod-name");
  caller.pod_uid = Extra(user, "authentication.kubernetes.io/pod-uid");
  return caller;
}

void TokenReviewAuthenticator::Remember(const std::string& key,
                                        const absl::StatusOr<Caller>& result,
                                        absl::Time token_exp) {
  const absl::Time now = options_.clock();
  if (result.ok()) {
    if (options_.cache_ttl <= absl::ZeroDuration()) return;
    const absl::Time expires = std::min(now + options_.cache_ttl, token_exp);
    if (expires <= now ||
        !MakeRoom(cache_, options_.cache_max_entries, now, &next_cache_sweep_)) {
      return;
    }
    cache_[key] = Entry{*result, expires};
    return;
  }
  // Only the API server's "no" is remembered; an outage or a full queue
  // says nothing about the token.
  if (result.status().code() != absl::StatusCode::kUnauthenticated ||
      options_.negative_cache_ttl <= absl::ZeroDuration() ||
      !MakeRoom(refused_, options_.negative_cache_max_entries, now,
                &next_refused_sweep_)) {
    return;
  }
  refused_[key] = Refusal{result.status(), now + options_.negative_cache_ttl};
}

}  // namespace server
}  // namespace vaultca
