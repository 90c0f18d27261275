#include "vault/internal/token_schedule.h"

#include <algorithm>

namespace vaultca {
namespace vault {
namespace internal {
namespace {

constexpr absl::Duration kMaxBackoff = absl::Minutes(5);

}  // namespace

absl::Duration TokenSchedule::FirstBackoff(absl::Duration ttl) {
  return std::clamp(ttl / 20, absl::Milliseconds(100), absl::Seconds(10));
}

void TokenSchedule::SetLease(absl::Time now, absl::Duration ttl,
                             bool renewable) {
  has_token_ = true;
  ttl_ = ttl;
  renewable_ = renewable;
  renew_backoff_ = absl::ZeroDuration();
  if (ttl <= absl::ZeroDuration()) {
    expire_at_ = absl::InfiniteFuture();
    renew_at_ = absl::InfiniteFuture();
    relogin_at_ = absl::InfiniteFuture();
    return;
  }
  expire_at_ = now + ttl;
  renew_at_ = renewable ? now + ttl * 2 / 3 : absl::InfiniteFuture();
  relogin_at_ = can_login_ ? now + ttl * 85 / 100 : absl::InfiniteFuture();
}

void TokenSchedule::OnLogin(absl::Time now, absl::Duration ttl,
                            bool renewable) {
  login_ttl_ = ttl;
  login_backoff_ = absl::ZeroDuration();
  next_login_attempt_ = absl::InfinitePast();
  SetLease(now, ttl, renewable);
}

void TokenSchedule::OnRenewed(absl::Time now, absl::Duration ttl,
                              bool renewable) {
  SetLease(now, ttl, renewable);
  // Vault caps renewals at the token's max TTL: a lease this short means
  // renewing is about to stop working, so get a new token now.
  if (can_login_ && ttl < login_ttl_ / 3) relogin_at_ = now;
}

void TokenSchedule::OnRenewFailed(absl::Time now) {
  renew_backoff_ = renew_backoff_ == absl::ZeroDuration()
                       ? FirstBackoff(ttl_)
                       : std::min(renew_backoff_ * 2, kMaxBackoff);
  renew_at_ = now + renew_backoff_;
}

void TokenSchedule::OnLoginFailed(absl::Time now) {
  login_backoff_ = login_backoff_ == absl::ZeroDuration()
                       ? FirstBackoff(login_ttl_ > absl::ZeroDuration()
                                          ? login_ttl_
                                          : absl::Seconds(20))
                       : std::min(login_backoff_ * 2, kMaxBackoff);
  next_login_attempt_ = now + login_backoff_;
}

void TokenSchedule::Invalidate() {
  has_token_ = false;
  expire_at_ = absl::InfinitePast();
  renew_at_ = absl::InfiniteFuture();
  relogin_at_ = absl::InfiniteFuture();
}

bool TokenSchedule::Expired(absl::Time now) const {
  return !has_token_ || now >= expire_at_;
}

TokenAction TokenSchedule::Next(absl::Time now) const {
  if (!has_token_) return TokenAction::kNone;  // Logins start on demand.
  const bool login_due =
      can_login_ && (now >= relogin_at_ || now >= expire_at_);
  if (login_due) {
    return now >= next_login_attempt_ ? TokenAction::kLogin
                                      : TokenAction::kNone;
  }
  if (renewable_ && now >= renew_at_ && now < expire_at_) {
    return TokenAction::kRenew;
  }
  return TokenAction::kNone;
}

absl::Time TokenSchedule::NextWake() const {
  if (!has_token_) return absl::InfiniteFuture();
  absl::Time wake = absl::InfiniteFuture();
  if (can_login_) {
    wake = std::max(std::min(relogin_at_, expire_at_), next_login_attempt_);
  }
  if (renewable_ && renew_at_ < expire_at_) wake = std::min(wake, renew_at_);
  return wake;
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
