// VaultClientImpl's token lifecycle: login, renewal, re-login, and the
// background renewal thread. See client_impl.h for the locking rules.

#include <utility>

#include "absl/strings/str_cat.h"
#include "vault/internal/client_impl.h"
#include "vault/internal/json.h"
#include "vault/internal/vault_errors.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

bool IsSuccess(int status) { return status >= 200 && status < 300; }

}  // namespace

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
  absl::Duration increment;
  if (creds->is_token()) {
    token = std::move(creds->token);
    // lookup-self gives what is left of the lease; renew for the full
    // creation TTL.
    ttl = absl::Seconds(IntMember(*block, "ttl").value_or(0));
    increment = absl::Seconds(IntMember(*block, "creation_ttl").value_or(0));
    if (increment < ttl) increment = ttl;
  } else {
    std::optional<SecretData> client_token = SecretMember(*block, "client_token");
    if (!client_token.has_value() || client_token->empty()) {
      return fail(absl::InternalError(absl::StrCat(
          "Vault ", method, " login (", op.path,
          "): response has no auth.client_token")));
    }
    token = *std::move(client_token);
    ttl = absl::Seconds(IntMember(*block, "lease_duration").value_or(0));
    increment = ttl;
  }
  const bool renewable = BoolMember(*block, "renewable").value_or(false);
  {
    MutexLock lock(&mu_);
    token_ = std::move(token);
    renew_increment_ = increment;
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
    increment = renew_increment_;
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

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
