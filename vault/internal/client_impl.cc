#include "vault/internal/client_impl.h"

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "vault/internal/json.h"
#include "vault/internal/kv_parse.h"
#include "vault/internal/vault_errors.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

// Percent-encodes everything in an API path but RFC 3986 unreserved
// characters and '/', so a path can never smuggle a query or fragment.
std::string EscapePath(absl::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Accepts "secret/x", "/secret/x" and "/v1/secret/x" alike.
std::string NormalizePath(absl::string_view path) {
  path = absl::StripPrefix(path, "/");
  path = absl::StripPrefix(path, "v1/");
  return std::string(path);
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

}  // namespace

VaultClientImpl::VaultClientImpl(
    const VaultConfig& config, ClientOptions options,
    std::shared_ptr<const Authenticator> authenticator,
    std::unique_ptr<HttpTransport> transport)
    : config_(config),
      options_(std::move(options)),
      authenticator_(std::move(authenticator)),
      executor_(std::move(transport),
                RetrySettings{config.max_retries, config.retry_base_backoff,
                              config.retry_max_backoff},
                options_.sleep, options_.uniform01),
      base_url_(absl::StrCat(absl::StripSuffix(config.address, "/"), "/v1/")),
      schedule_(authenticator_->method() != AuthMethod::kToken ||
                config.auth.token.empty()) {
  if (options_.background_renewal) {
    renewal_thread_ = std::thread([this] { RenewalLoop(); });
  }
}

VaultClientImpl::~VaultClientImpl() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (renewal_thread_.joinable()) renewal_thread_.join();
}

HttpRequest VaultClientImpl::BuildRequest(const Operation& op) const {
  HttpRequest request;
  request.method = op.method;
  request.url = absl::StrCat(base_url_, EscapePath(op.path));
  if (!op.query.empty()) absl::StrAppend(&request.url, "?", op.query);
  request.headers.emplace_back("X-Vault-Request", "true");
  if (!config_.vault_namespace.empty()) {
    request.headers.emplace_back("X-Vault-Namespace", config_.vault_namespace);
  }
  if (!op.body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
  }
  request.body = op.body;
  return request;
}

VaultClientImpl::TokenRef VaultClientImpl::Snapshot() const {
  return TokenRef{token_, generation_};
}

absl::StatusOr<HttpResponse> VaultClientImpl::Execute(const Operation& op,
                                                      absl::Time deadline) {
  HttpRequest request = BuildRequest(op);
  uint64_t generation = 0;
  if (op.needs_token) {
    absl::StatusOr<TokenRef> token = CurrentToken(deadline);
    if (!token.ok()) return token.status();
    request.token = std::move(token->token);
    generation = token->generation;
  }
  absl::StatusOr<HttpResponse> response =
      executor_.Send(request, deadline, op.retry);
  if (!op.needs_token || !response.ok() || response->status != 403) {
    return response;
  }
  // The token may have been revoked or expired early: log in again once and
  // repeat the call; a second 403 is the caller's answer.
  absl::StatusOr<TokenRef> fresh = Relogin(generation, deadline);
  if (!fresh.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        HttpErrorToStatus(403, absl::StrCat(op.method, " ", op.path),
                          response->body.view())
            .message(),
        "; logging in again failed: ", fresh.status().message()));
  }
  request.token = std::move(fresh->token);
  return executor_.Send(request, deadline, op.retry);
}

absl::StatusOr<SecretData> VaultClientImpl::ExecuteForBody(
    const Operation& op) {
  absl::StatusOr<HttpResponse> response =
      Execute(op, absl::Now() + config_.timeout);
  if (!response.ok()) return response.status();
  if (!IsSuccess(response->status)) {
    return HttpErrorToStatus(response->status,
                             absl::StrCat(op.method, " ", op.path),
                             response->body.view());
  }
  return std::move(response->body);
}

absl::StatusOr<KvSecret> VaultClientImpl::ReadKv(absl::string_view path,
                                                 int64_t version) {
  Operation op;
  op.path = NormalizePath(path);
  if (version > 0) op.query = absl::StrCat("version=", version);
  absl::StatusOr<HttpResponse> response =
      Execute(op, absl::Now() + config_.timeout);
  if (!response.ok()) return response.status();
  return ParseKvResponse(op.path, version, response->status,
                         response->body.view());
}

absl::StatusOr<SecretData> VaultClientImpl::ReadReference(
    const Reference& reference) {
  absl::StatusOr<KvSecret> secret = ReadKv(reference.path, reference.version);
  if (!secret.ok()) return secret.status();
  return secret->Get(reference.key);
}

absl::StatusOr<std::vector<SecretData>> VaultClientImpl::ReadReferences(
    absl::Span<const Reference> references) {
  std::map<std::pair<std::string, int64_t>, KvSecret> cache;
  std::vector<SecretData> values;
  values.reserve(references.size());
  for (const Reference& ref : references) {
    const auto cache_key = std::make_pair(ref.path, ref.version);
    auto it = cache.find(cache_key);
    if (it == cache.end()) {
      absl::StatusOr<KvSecret> secret = ReadKv(ref.path, ref.version);
      if (!secret.ok()) {
        return absl::Status(secret.status().code(),
                            absl::StrCat(ref.ToString(), ": ",
                                         secret.status().message()));
      }
      it = cache.emplace(cache_key, *std::move(secret)).first;
    }
    absl::StatusOr<SecretData> value = it->second.Get(ref.key);
    if (!value.ok()) {
      return absl::Status(value.status().code(),
                          absl::StrCat(ref.ToString(), ": ",
                                       value.status().message()));
    }
    values.push_back(*std::move(value));
  }
  return values;
}

absl::StatusOr<HealthReport> VaultClientImpl::Health() {
  Operation op;
  op.path = "sys/health";
  op.needs_token = false;
  op.retry = false;
  absl::StatusOr<HttpResponse> response =
      Execute(op, absl::Now() + config_.timeout);
  if (!response.ok()) return response.status();
  HealthReport report;
  report.http_status = response->status;
  switch (response->status) {
    case 200:
      report.state = HealthState::kActive;
      break;
    case 429:
      report.state = HealthState::kStandby;
      break;
    case 472:
      report.state = HealthState::kDrSecondary;
      break;
    case 473:
      report.state = HealthState::kPerformanceStandby;
      break;
    case 501:
      report.state = HealthState::kUninitialized;
      break;
    case 503:
      report.state = HealthState::kSealed;
      break;
    default:
      return HttpErrorToStatus(response->status, "GET sys/health",
                               response->body.view());
  }
  if (std::optional<SecureJson> json = ParseJson(response->body.view())) {
    report.initialized = BoolMember(*json, "initialized").value_or(false);
    report.sealed = BoolMember(*json, "sealed").value_or(false);
    report.standby = BoolMember(*json, "standby").value_or(false);
    report.version = StringMember(*json, "version").value_or("");
    report.cluster_name = StringMember(*json, "cluster_name").value_or("");
  }
  return report;
}

absl::StatusOr<SecretData> VaultClientImpl::Read(absl::string_view path) {
  Operation op;
  op.path = NormalizePath(path);
  return ExecuteForBody(op);
}

absl::StatusOr<SecretData> VaultClientImpl::Write(absl::string_view path,
                                                  absl::string_view body) {
  return WriteSecret(path, SecretData(body));
}

absl::StatusOr<SecretData> VaultClientImpl::WriteSecret(
    absl::string_view path, const SecretData& body) {
  Operation op;
  op.method = "POST";
  op.path = NormalizePath(path);
  op.body = body.empty() ? SecretData("{}") : body;
  return ExecuteForBody(op);
}

absl::Status VaultClientImpl::Delete(absl::string_view path) {
  Operation op;
  op.method = "DELETE";
  op.path = NormalizePath(path);
  return ExecuteForBody(op).status();
}

absl::Status VaultClientImpl::Login() {
  MutexLock refresh(&refresh_mu_);
  return DoLogin(absl::Now() + config_.timeout);
}

TokenInfo VaultClientImpl::token_info() const {
  MutexLock lock(&mu_);
  TokenInfo info = stats_;
  info.has_token = schedule_.has_token();
  info.ttl = schedule_.ttl();
  info.renewable = schedule_.renewable();
  info.expire_at = schedule_.expire_at();
  return info;
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
