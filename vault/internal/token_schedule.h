#ifndef VAULTCA_VAULT_INTERNAL_TOKEN_SCHEDULE_H_
#define VAULTCA_VAULT_INTERNAL_TOKEN_SCHEDULE_H_

#include "absl/time/time.h"

namespace vaultca {
namespace vault {
namespace internal {

// What the token lifecycle needs done now.
enum class TokenAction { kNone, kRenew, kLogin };

// When to renew the Vault token and when to log in again, as a pure
// function of the lease and the clock (no I/O, no locking: the owner
// serialises calls).
//
// Policy, after Vault's LifetimeWatcher: renew at 2/3 of the lease; on a
// failed renewal back off (ttl/20 clamped to [100 ms, 10 s], doubling up to
// 5 min); log in again once 85% of the lease is gone or when a renewal
// comes back with less than a third of the original lease (max TTL
// reached); a failed login backs off the same way. A TTL of zero means the
// token never expires (root tokens): nothing is scheduled.
class TokenSchedule {
 public:
  // `can_login`: whether a new login can yield a different token (false
  // for a fixed token given in the configuration).
  explicit TokenSchedule(bool can_login) : can_login_(can_login) {}

  // Records a fresh token from a login (or lookup-self for token auth).
  void OnLogin(absl::Time now, absl::Duration ttl, bool renewable);
  // Records a successful renewal that returned `ttl`.
  void OnRenewed(absl::Time now, absl::Duration ttl, bool renewable);
  void OnRenewFailed(absl::Time now);
  void OnLoginFailed(absl::Time now);
  // Forgets the token (after a 403): the next action is a login.
  void Invalidate();

  bool has_token() const { return has_token_; }
  // True when there is no token or its lease has run out.
  bool Expired(absl::Time now) const;
  // Returns what should be done at `now`.
  TokenAction Next(absl::Time now) const;
  // Returns the earliest time Next may change its answer
  // (InfiniteFuture when nothing is scheduled).
  absl::Time NextWake() const;

  // The lease the token was last granted (or renewed) with.
  absl::Duration ttl() const { return ttl_; }
  // The lease asked for at renewal: the one the login granted.
  absl::Duration login_ttl() const { return login_ttl_; }
  bool renewable() const { return renewable_; }
  absl::Time expire_at() const { return expire_at_; }

 private:
  static absl::Duration FirstBackoff(absl::Duration ttl);
  void SetLease(absl::Time now, absl::Duration ttl, bool renewable);

  const bool can_login_;
  bool has_token_ = false;
  absl::Duration ttl_ = absl::ZeroDuration();
  absl::Duration login_ttl_ = absl::ZeroDuration();
  bool renewable_ = false;
  absl::Time expire_at_ = absl::InfinitePast();
  absl::Time renew_at_ = absl::InfiniteFuture();
  absl::Time relogin_at_ = absl::InfiniteFuture();
  absl::Time next_login_attempt_ = absl::InfinitePast();
  absl::Duration renew_backoff_ = absl::ZeroDuration();
  absl::Duration login_backoff_ = absl::ZeroDuration();
};

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_TOKEN_SCHEDULE_H_
