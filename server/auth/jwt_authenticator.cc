#include "server/auth/jwt_authenticator.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "nlohmann/json.hpp"
#include "server/auth/internal/jwks.h"
#include "server/auth/internal/jwks_fetch.h"
#include "server/auth/internal/jwt.h"
#include "server/auth/spiffe.h"
#include "server/internal/file_util.h"

namespace vaultca {
namespace server {
namespace {

// Keys left out of a set are worth a warning: a token signed with one of
// them will be refused.
void WarnSkippedKeys(const internal::Jwks& jwks, absl::string_view source,
                     absl::string_view issuer) {
  for (const std::string& why : jwks.skipped()) {
    VAULTCA_LOG(WARNING) << "JWKS " << source << " for issuer " << issuer
                         << ": unusable key left out: " << why;
  }
}

using Json = nlohmann::json;

absl::Status Reject(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("JWT rejected: ", why));
}

// Echoes at most 64 characters of an untrusted claim value, C-escaped so
// that a claim cannot forge log lines or smuggle control bytes.
std::string Quote(const std::string& value) {
  if (value.size() <= 64) return absl::StrCat("'", absl::CHexEscape(value), "'");
  return absl::StrCat("'", absl::CHexEscape(value.substr(0, 64)), "...'");
}

// Reads the NumericDate claim `name`; false when absent or not a number.
bool NumericDate(const Json& claims, const char* name, absl::Time* out) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return false;
  const double seconds = it->get<double>();
  // Beyond int64 the cast below is undefined (found by
  // //server/auth/fuzz:jwt_fuzzer); no real date is that far out.
  if (!std::isfinite(seconds) || std::abs(seconds) > 1e15) return false;
  *out = absl::FromUnixSeconds(static_cast<int64_t>(seconds));
  return true;
}

absl::Status CheckClaims(const Json& claims,
                         const JwtAuthenticatorOptions& options,
                         absl::Time now) {
  auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string()) {
    return Reject("no \"iss\" claim");
  }
  if (*iss != options.issuer) {
    return Reject(absl::StrCat("issuer ", Quote(iss->get<std::string>()),
                               " is not the configured issuer ",
                               Quote(options.issuer)));
  }
  std::vector<std::string> audiences;
  auto aud = claims.find("aud");
  if (aud != claims.end() && aud->is_string()) {
    audiences.push_back(aud->get<std::string>());
  } else if (aud != claims.end() && aud->is_array()) {
    for (const Json& a : *aud) {
      if (a.is_string()) audiences.push_back(a.get<std::string>());
    }
  }
  bool audience_ok = false;
  for (const std::string& a : audiences) {
    for (const std::string& want : options.audiences) {
      if (a == want) audience_ok = true;
    }
  }
  if (!audience_ok) {
    return Reject(absl::StrCat(
        "audience does not include ", absl::StrJoin(options.audiences, " or "),
        "; request the token with that audience (istio-agent's projected "
        "token uses istio-ca)"));
  }
  absl::Time exp, nbf, iat;
  if (!NumericDate(claims, "exp", &exp)) {
    return Reject("no numeric \"exp\" claim; tokens without expiry are "
                  "not accepted");
  }
  if (now > exp + options.clock_skew) {
    return Reject(absl::StrCat("expired at ", absl::FormatTime(exp)));
  }
  if (claims.contains("nbf")) {
    if (!NumericDate(claims, "nbf", &nbf)) return Reject("\"nbf\" malformed");
    if (now + options.clock_skew < nbf) {
      return Reject(absl::StrCat("not valid before ", absl::FormatTime(nbf)));
    }
  }
  if (claims.contains("iat")) {
    if (!NumericDate(claims, "iat", &iat)) return Reject("\"iat\" malformed");
    if (now + options.clock_skew < iat) {
      return Reject(absl::StrCat("issued in the future (",
                                 absl::FormatTime(iat), "); check clocks"));
    }
  }
  return absl::OkStatus();
}

// Extracts the service account (and pod) the claims name.
absl::Status ExtractAccount(const Json& claims, Caller* caller) {
  std::optional<ServiceAccountRef> from_sub;
  auto sub = claims.find("sub");
  if (sub != claims.end() && sub->is_string()) {
    absl::StatusOr<ServiceAccountRef> parsed =
        ParseServiceAccountUser(sub->get<std::string>());
    if (parsed.ok()) from_sub = *parsed;
  }
  std::optional<ServiceAccountRef> from_kube;
  auto kube = claims.find("kubernetes.io");
  if (kube != claims.end() && kube->is_object()) {
    auto ns = kube->find("namespace");
    auto sa = kube->find("serviceaccount");
    if (ns == kube->end() || !ns->is_string() || sa == kube->end() ||
        !sa->is_object() || !sa->contains("name") ||
        !(*sa)["name"].is_string()) {
      return Reject("the \"kubernetes.io\" claim lacks namespace or "
                    "serviceaccount.name");
    }
    absl::StatusOr<ServiceAccountRef> parsed =
        ParseServiceAccountUser(absl::StrCat(
            "system:serviceaccount:", ns->get<std::string>(), ":",
            (*sa)["name"].get<std::string>()));
    if (!parsed.ok()) return Reject(parsed.status().message());
    from_kube = *parsed;
    auto pod = kube->find("pod");
    if (pod != kube->end() && pod->is_object()) {
      auto name = pod->find("name");
      auto uid = pod->find("uid");
      if (name != pod->end() && name->is_string()) {
        caller->pod_name = name->get<std::string>();
      }
      if (uid != pod->end() && uid->is_string()) {
        caller->pod_uid = uid->get<std::string>();
      }
    }
  }
  if (from_sub && from_kube &&
      (from_sub->kube_namespace != from_kube->kube_namespace ||
       from_sub->name != from_kube->name)) {
    return Reject("\"sub\" and the \"kubernetes.io\" claim name different "
                  "service accounts");
  }
  const std::optional<ServiceAccountRef>& account =
      from_kube ? from_kube : from_sub;
  if (!account) {
    return Reject("it names no Kubernetes service account (\"sub\" "
                  "system:serviceaccount:<namespace>:<name> or a "
                  "\"kubernetes.io\" claim)");
  }
  caller->kube_namespace = account->kube_namespace;
  caller->service_account = account->name;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<JwtAuthenticator>> JwtAuthenticator::New(
    JwtAuthenticatorOptions options) {
  const int sources = !options.jwks_file.empty() + !options.jwks_uri.empty() +
                      options.oidc_discovery;
  if (options.issuer.empty() || sources != 1 || options.audiences.empty() ||
      options.trust_domain.empty() || !options.clock) {
    return absl::InvalidArgumentError(
        "JWT authenticator needs an issuer, exactly one key source (a JWKS "
        "file, a JWKS URL or OIDC discovery), at least one audience, a "
        "trust domain and a clock");
  }
  if ((!options.jwks_uri.empty() &&
       !absl::StartsWith(options.jwks_uri, "https://")) ||
      (options.oidc_discovery &&
       !absl::StartsWith(options.issuer, "https://"))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "issuer ", options.issuer,
        ": JWKS are fetched over https only (jwks_uri, or an https issuer "
        "for OIDC discovery)"));
  }
  if (!options.jwks_file.empty()) {
    absl::StatusOr<std::string> stamp = internal::FileStamp(options.jwks_file);
    if (!stamp.ok()) return stamp.status();
    absl::StatusOr<std::string> text =
        internal::ReadSmallFile(options.jwks_file);
    if (!text.ok()) return text.status();
    absl::StatusOr<std::shared_ptr<const internal::Jwks>> jwks =
        internal::Jwks::Parse(*text);
    if (!jwks.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.jwks_file, " (issuer ", options.issuer,
          "): ", jwks.status().message()));
    }
    WarnSkippedKeys(**jwks, options.jwks_file, options.issuer);
    return std::unique_ptr<JwtAuthenticator>(
        new JwtAuthenticator(std::move(options), *std::move(jwks), *stamp));
  }
  auto authenticator = std::unique_ptr<JwtAuthenticator>(
      new JwtAuthenticator(std::move(options), nullptr, ""));
  // The first fetch happens now rather than on the first request.
  authenticator->RefetchRemote(/*unknown_kid=*/false);
  return authenticator;
}

JwtAuthenticator::JwtAuthenticator(JwtAuthenticatorOptions options,
                                   std::shared_ptr<const internal::Jwks> jwks,
                                   std::string file_stamp)
    : options_(std::move(options)),
      jwks_(std::move(jwks)),
      file_stamp_(std::move(file_stamp)),
      // A remote set is due for its first fetch at once.
      last_check_(remote() ? absl::InfinitePast() : options_.clock()) {}

JwtAuthenticator::~JwtAuthenticator() = default;

std::shared_ptr<const internal::Jwks> JwtAuthenticator::CurrentJwks(
    bool unknown_kid) {
  return remote() ? RefetchRemote(unknown_kid) : ReloadFile();
}

std::shared_ptr<const internal::Jwks> JwtAuthenticator::ReloadFile() {
  MutexLock lock(&mu_);
  const absl::Time now = options_.clock();
  if (now - last_check_ < options_.jwks_recheck_interval) return jwks_;
  last_check_ = now;
  absl::StatusOr<std::string> stamp = internal::FileStamp(options_.jwks_file);
  if (!stamp.ok() || *stamp == file_stamp_) {
    if (!stamp.ok()) {
      VAULTCA_LOG(WARNING) << "JWKS for issuer " << options_.issuer
                           << " unreadable, keeping the previous keys: "
                           << stamp.status().message();
    }
    return jwks_;
  }
  absl::StatusOr<std::string> text =
      internal::ReadSmallFile(options_.jwks_file);
  absl::StatusOr<std::shared_ptr<const internal::Jwks>> parsed =
      text.ok() ? internal::Jwks::Parse(*text)
                : absl::StatusOr<std::shared_ptr<const internal::Jwks>>(
                      text.status());
  if (!parsed.ok()) {
    VAULTCA_LOG(WARNING) << "JWKS " << options_.jwks_file << " for issuer "
                         << options_.issuer
                         << " changed but is unusable, keeping the previous "
                            "keys: "
                         << parsed.status().message();
    // Not remembering the stamp makes the next check retry the file.
    return jwks_;
  }
  WarnSkippedKeys(**parsed, options_.jwks_file, options_.issuer);
  jwks_ = *std::move(parsed);
  file_stamp_ = *std::move(stamp);
  VAULTCA_LOG(INFO) << "reloaded JWKS " << options_.jwks_file << " for issuer "
                    << options_.issuer << " (" << jwks_->size() << " keys)";
  return jwks_;
}

std::shared_ptr<const internal::Jwks> JwtAuthenticator::RefetchRemote(
    bool unknown_kid) {
  {
    MutexLock lock(&mu_);
    const absl::Duration since = options_.clock() - last_check_;
    // Until the first success, and after an unknown key id, re-fetch at the
    // (short) minimum interval; otherwise on the refresh interval.
    const bool due =
        jwks_ == nullptr || unknown_kid
            ? since >= options_.jwks_min_refetch_interval
            : since >= options_.jwks_refresh_interval;
    if (fetching_ || !due) return jwks_;
    fetching_ = true;
    last_check_ = options_.clock();
  }
  // The fetch runs unlocked: concurrent requests keep the current keys
  // instead of waiting up to the fetch timeout.
  internal::JwksFetchOptions fetch;
  fetch.jwks_uri = options_.jwks_uri;
  fetch.issuer = options_.issuer;
  fetch.ca_file = options_.jwks_ca_file;
  fetch.timeout = options_.jwks_fetch_timeout;
  absl::StatusOr<std::shared_ptr<const internal::Jwks>> fetched =
      internal::FetchJwks(fetch);
  MutexLock lock(&mu_);
  fetching_ = false;
  if (!fetched.ok()) {
    VAULTCA_LOG(WARNING) << "fetching the JWKS of issuer " << options_.issuer
                         << " failed, "
                         << (jwks_ ? "keeping the previous keys: "
                                   : "its tokens are refused until a fetch "
                                     "succeeds: ")
                         << fetched.status().message();
    return jwks_;
  }
  if (jwks_ == nullptr || unknown_kid) {
    VAULTCA_LOG(INFO) << "fetched the JWKS of issuer " << options_.issuer
                      << " (" << (*fetched)->size() << " keys)";
  }
  // Once per change of the set, not at every periodic refresh.
  if (jwks_ == nullptr || jwks_->skipped() != (*fetched)->skipped()) {
    WarnSkippedKeys(**fetched, "fetched", options_.issuer);
  }
  jwks_ = *std::move(fetched);
  return jwks_;
}

absl::StatusOr<Caller> JwtAuthenticator::Authenticate(
    const AuthRequest& request) {
  if (request.bearer_token.empty()) {
    return absl::UnauthenticatedError("no bearer token");
  }
  absl::StatusOr<internal::DecodedJwt> jwt =
      internal::DecodeJwt(request.bearer_token.view());
  if (!jwt.ok()) return jwt.status();
  std::shared_ptr<const internal::Jwks> jwks =
      CurrentJwks(/*unknown_kid=*/false);
  std::vector<const internal::Jwk*> keys;
  if (jwks != nullptr) keys = jwks->Candidates(jwt->kid, jwt->algorithm);
  if (keys.empty() && remote()) {
    // The issuer may have rotated its keys since the last fetch.
    jwks = CurrentJwks(/*unknown_kid=*/true);
    if (jwks != nullptr) keys = jwks->Candidates(jwt->kid, jwt->algorithm);
  }
  if (jwks == nullptr) {
    return Reject("the issuer's JWKS has not been fetched yet");
  }
  if (keys.empty()) {
    return Reject(jwt->kid.empty()
                      ? std::string("no key of its algorithm in the JWKS")
                      : absl::StrCat("unknown key id ", Quote(jwt->kid),
                                     " (not in the issuer's JWKS)"));
  }
  absl::Status verified = absl::UnauthenticatedError("no key");
  for (const internal::Jwk* key : keys) {
    verified = internal::VerifyJwtSignature(*jwt, key->key.get());
    if (verified.ok()) break;
  }
  if (!verified.ok()) return Reject("signature does not verify");
  const absl::Time now = options_.clock();
  if (absl::Status s = CheckClaims(jwt->claims, options_, now); !s.ok()) {
    return s;
  }
  Caller caller;
  if (absl::Status s = ExtractAccount(jwt->claims, &caller); !s.ok()) return s;
  caller.identities = {SpiffeIdForServiceAccount(
      options_.trust_domain,
      ServiceAccountRef{caller.kube_namespace, caller.service_account})};
  caller.authenticator = std::string(Name());
  return caller;
}

}  // namespace server
}  // namespace vaultca
