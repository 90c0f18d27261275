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

absl::StatusOr<VaultClientImpl::TokenRef> VaultClientImpl::CurrentToken(
    absl::Time deadline) {
  auto usable = [this](TokenAction* action) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    if (schedule_.Expired(now)) return false;
    *action = schedule_.Next(now);
    return options_.background_renewal || *action == TokenAction::kNone;
  };
  TokenAction action = TokenAction::kNone;
  {
    MutexLock lock(&mu_);
    if (usable(&action)) return Snapshot();
  }
  MutexLock refresh(&refresh_mu_);
  bool expired;
  {
    MutexLock lock(&mu_);
    if (usable(&action)) return Snapshot();
    expired = schedule_.Expired(absl::Now());
  }
  absl::Status status;
  if (expired || action == TokenAction::kLogin) {
    status = DoLogin(deadline);
  } else if (action == TokenAction::kRenew) {
    status = DoRenew(deadline);
  }
  MutexLock lock(&mu_);
  // A failed early renewal or re-login leaves a still valid token usable.
  if (schedule_.Expired(absl::Now())) {
    return status.ok() ? absl::UnavailableError("Vault token expired at once")
                       : status;
  }
  return Snapshot();
}

absl::StatusOr<VaultClientImpl::TokenRef> VaultClientImpl::Relogin(
    uint64_t stale_generation, absl::Time deadline) {
  MutexLock refresh(&refresh_mu_);
  {
    MutexLock lock(&mu_);
    if (generation_ != stale_generation &&
        !schedule_.Expired(absl::Now())) {
      return Snapshot();
    }
  }
  absl::Status status = DoLogin(deadline);
  if (!status.ok()) return status;
  MutexLock lock(&mu_);
  return Snapshot();
}

absl::Status VaultClientImpl::DoLogin(absl::Time deadline) {
  absl::StatusOr<Credentials> creds = authenticator_->GetCredentials();
  auto fail = [this](absl::Status status) {
    MutexLock lock(&mu_);
    schedule_.OnLoginFailed(absl::Now());
    ++stats_.login_failures;
    return status;
  };
  if (!creds.ok()) return fail(creds.status());
  const std::string method(AuthMethodName(authenticator_->method()));

  Operation op;
  op.needs_token = false;
  if (creds->is_token()) {
    op.method = "GET";
    op.path = "auth/token/lookup-self";
  } else {
    op.method = "POST";
    op.path = creds->login_path;
    op.body = std::move(creds->login_body);
  }
  HttpRequest request = BuildRequest(op);
  if (creds->is_token()) request.token = creds->token;
  absl::StatusOr<HttpResponse> response = executor_.Send(request, deadline);
  if (!response.ok()) {
    return fail(absl::Status(
        response.status().code(),
        absl::StrCat("Vault ", method, " login failed: ",
                     response.status().message())));
  }
  if (!IsSuccess(response->status)) {
    absl::Status err = HttpErrorToStatus(
        response->status, absl::StrCat(method, " login (", op.path, ")"),
        response->body.view());
    return fail(absl::Status(err.code(),
                             absl::StrCat(err.message(),
                                          creds->is_token()
                                              ? "; check VAULT_TOKEN"
                                              : "; check the role and "
                                                "credentials")));
  }
  std::optional<SecureJson> json = ParseJson(response->body.view());
  const SecureJson* block =
      json.has_value()
          ? Member(*json, creds->is_token() ? "data" : "auth")
          : nullptr;
  if (block == nullptr || !block->is_object()) {
    return fail(absl::InternalError(absl::StrCat(
        "Vault ", method, " login (", op.path, "): response has no '",
        creds->is_token() ? "data" : "auth", "' object")));
  }
  SecretData token;
  absl::Duration ttl;
  if (creds->is_token()) {
    token = std::move(creds->token);
    ttl = absl::Seconds(IntMember(*block, "ttl").value_or(0));
  } else {
    std::optional<SecretData> client_token = SecretMember(*block, "client_token");
    if (!client_token.has_value() || client_token->empty()) {
      return fail(absl::InternalError(absl::StrCat(
          "Vault ", method, " login (", op.path,
          "): response has no auth.client_token")));
    }
    token = *std::move(client_token);
    ttl = absl::Seconds(IntMember(*block, "lease_duration").value_or(0));
  }
  const bool renewable = BoolMember(*block, "renewable").value_or(false);
  {
    MutexLock lock(&mu_);
    token_ = std::move(token);
    ++generation_;
    schedule_.OnLogin(absl::Now(), ttl, renewable);
    ++stats_.logins;
  }
  cv_.SignalAll();
  return absl::OkStatus();
}

absl::Status VaultClientImpl::DoRenew(absl::Time deadline) {
  Operation op;
  op.method = "POST";
  op.path = "auth/token/renew-self";
  op.needs_token = false;
  HttpRequest request;
  absl::Duration increment;
  {
    MutexLock lock(&mu_);
    increment = schedule_.login_ttl();
    request.token = token_;
  }
  op.body = SecretData(absl::StrCat(
      "{\"increment\":\"", absl::ToInt64Seconds(increment), "s\"}"));
  SecretData token = std::move(request.token);
  request = BuildRequest(op);
  request.token = std::move(token);

  absl::StatusOr<HttpResponse> response = executor_.Send(request, deadline);
  absl::Status status;
  std::optional<SecureJson> json;
  const SecureJson* auth = nullptr;
  if (!response.ok()) {
    status = response.status();
  } else if (!IsSuccess(response->status)) {
    status = HttpErrorToStatus(response->status, "token renew-self",
                               response->body.view());
  } else if (!(json = ParseJson(response->body.view())).has_value() ||
             (auth = Member(*json, "auth")) == nullptr || !auth->is_object()) {
    status = absl::InternalError(
        "Vault token renew-self: response has no 'auth' object");
  }
  if (!status.ok()) {
    {
      MutexLock lock(&mu_);
      schedule_.OnRenewFailed(absl::Now());
      ++stats_.renewal_failures;
    }
    // A revoked or expired token cannot be renewed: replace it now.
    const bool token_dead =
        response.ok() && (response->status == 403 || response->status == 400);
    if (token_dead && authenticator_->method() != AuthMethod::kToken) {
      if (options_.warn) {
        options_.warn(absl::StrCat("vault: token renewal refused (",
                                   status.message(), "); logging in again"));
      }
      return DoLogin(deadline);
    }
    return status;
  }
  const absl::Duration ttl =
      absl::Seconds(IntMember(*auth, "lease_duration").value_or(0));
  const bool renewable = BoolMember(*auth, "renewable").value_or(false);
  {
    MutexLock lock(&mu_);
    schedule_.OnRenewed(absl::Now(), ttl, renewable);
    ++stats_.renewals;
  }
  cv_.SignalAll();
  return absl::OkStatus();
}

void VaultClientImpl::RunDueAction(TokenAction action) {
  MutexLock refresh(&refresh_mu_);
  {
    // A call may have done the work while this thread waited for the lock.
    MutexLock lock(&mu_);
    if (schedule_.Next(absl::Now()) != action) return;
  }
  const absl::Time deadline = absl::Now() + config_.timeout;
  absl::Status status = action == TokenAction::kLogin ? DoLogin(deadline)
                                                      : DoRenew(deadline);
  if (!status.ok() && options_.warn) {
    options_.warn(absl::StrCat("vault: background token ",
                               action == TokenAction::kLogin ? "re-login"
                                                             : "renewal",
                               " failed, will retry: ", status.message()));
  }
}

void VaultClientImpl::RenewalLoop() {
  while (true) {
    TokenAction action = TokenAction::kNone;
    {
      MutexLock lock(&mu_);
      while (true) {
        if (stop_) return;
        const absl::Time now = absl::Now();
        action = schedule_.Next(now);
        if (action != TokenAction::kNone) break;
        const absl::Time wake = schedule_.NextWake();
        // Nothing due and nothing scheduled ahead: sleep until a login
        // changes the schedule (it signals cv_).
        cv_.WaitWithTimeout(&mu_, wake <= now ? absl::InfiniteDuration()
                                              : wake - now);
      }
    }
    RunDueAction(action);
  }
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
