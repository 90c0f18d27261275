#ifndef VAULTCA_SERVER_AUTH_TOKEN_REVIEW_AUTHENTICATOR_H_
#define VAULTCA_SERVER_AUTH_TOKEN_REVIEW_AUTHENTICATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "server/auth/authenticator.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {

struct TokenReviewOptions {
  // Audiences the token must be valid for (TOKEN_AUDIENCES).
  std::vector<std::string> audiences = {"istio-ca"};
  std::string trust_domain = "cluster.local";
  // Positive results are kept until the token's own "exp", but never
  // longer than this; zero disables the cache.
  absl::Duration cache_ttl = absl::Minutes(5);
  // At most this many cached callers; beyond it new results are not cached.
  int cache_max_entries = 100000;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// istiod's Kubernetes JWT authenticator: the bearer token is sent to the
// API server's TokenReview with the configured audiences. The caller must
// be authenticated, in group system:serviceaccounts, with user name
// system:serviceaccount:<ns>:<sa>; the pod name and uid come from the
// user's extra fields. Identity: spiffe://<td>/ns/<ns>/sa/<sa>.
//
// Positive answers are cached under the token's SHA-256 (the token itself
// is never stored) until the token expires (its unverified "exp"), capped
// by cache_ttl, so a mass pod restart costs one review per pod instead of
// one per request. Negative answers are not cached. Thread-safe.
class TokenReviewAuthenticator : public Authenticator {
 public:
  TokenReviewAuthenticator(std::shared_ptr<const KubeApiClient> api,
                           TokenReviewOptions options);

  absl::string_view Name() const override { return "token-review"; }
  bool UsesBearerToken() const override { return true; }
  // Unauthenticated when the review says no; Unavailable when the API
  // server could not answer (the message says why).
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override;

  // Reviews sent to the API server since start (cache misses).
  int64_t reviews() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    Caller caller;
    absl::Time expires;
  };
  absl::StatusOr<Caller> Review(const SecretData& token) const;
  void Remember(const std::string& key, const Caller& caller,
                absl::Time token_exp) ABSL_LOCKS_EXCLUDED(mu_);

  const std::shared_ptr<const KubeApiClient> api_;
  const TokenReviewOptions options_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  int64_t reviews_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_TOKEN_REVIEW_AUTHENTICATOR_H_
