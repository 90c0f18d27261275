#ifndef VAULTCA_SERVER_AUTH_TOKEN_REVIEW_AUTHENTICATOR_H_
#define VAULTCA_SERVER_AUTH_TOKEN_REVIEW_AUTHENTICATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "server/auth/authenticator.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {
namespace internal {
class FifoSemaphore;
}  // namespace internal

struct TokenReviewOptions {
  // Audiences the token must be valid for (TOKEN_AUDIENCES).
  std::vector<std::string> audiences = {"istio-ca"};
  std::string trust_domain = "cluster.local";
  // Positive results are kept until the token's own "exp", but never
  // longer than this; zero disables the cache.
  absl::Duration cache_ttl = absl::Seconds(10);
  // At most this many cached callers; beyond it new results are not cached.
  int cache_max_entries = 100000;
  // Tokens the API server refused are refused from memory for this long,
  // so a flood of one bad token costs one review; zero disables. Short,
  // because a refusal can be transient (a token used a moment before the
  // API server has seen its pod).
  absl::Duration negative_cache_ttl = absl::Seconds(5);
  int negative_cache_max_entries = 10000;
  // TokenReviews in flight at once. Beyond it callers queue in arrival
  // order, for at most review_queue_timeout, then get Unavailable (which
  // istio-agent retries), so a flood of distinct tokens neither overloads
  // the API server nor makes later callers wait longer than that.
  int max_concurrent_reviews = 8;
  absl::Duration review_queue_timeout = absl::Seconds(1);
  // The time tokens are checked against ("exp", cache expiry). Queueing
  // uses real time.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// What the authenticator did since start.
struct TokenReviewStats {
  int64_t reviews = 0;              // TokenReviews sent to the API server.
  int64_t cache_hits = 0;           // Answered from the positive cache.
  int64_t negative_cache_hits = 0;  // Refused from the negative cache.
  int64_t locally_refused = 0;      // Refused without asking (shape, exp, aud).
  int64_t coalesced = 0;            // Joined an identical review in flight.
  int64_t queue_timeouts = 0;       // Unavailable: no review slot in time.
};

// istiod's Kubernetes JWT authenticator: the bearer token is sent to the
// API server's TokenReview with the configured audiences. The caller must
// be authenticated, in group system:serviceaccounts, with user name
// system:serviceaccount:<ns>:<sa> (valid Kubernetes names); when the answer
// names audiences, one must be requested. The pod name and uid come from
// the user's extra fields. Identity: spiffe://<td>/ns/<ns>/sa/<sa>.
//
// Tokens that cannot pass are refused without a review: not a JWT, no
// future "exp", or an "aud" claim naming none of the audiences. Answers are
// cached under the token's SHA-256 (the token itself is never stored):
// positive ones until the token expires, capped by cache_ttl, so a mass pod
// restart costs one review per pod; negative ones for negative_cache_ttl.
// Concurrent requests with the same token share one review, and reviews in
// flight are bounded (max_concurrent_reviews). Thread-safe.
class TokenReviewAuthenticator : public Authenticator {
 public:
  TokenReviewAuthenticator(std::shared_ptr<const KubeApiClient> api,
                           TokenReviewOptions options);
  ~TokenReviewAuthenticator() override;

  absl::string_view Name() const override { return "token-review"; }
  bool UsesBearerToken() const override { return true; }
  // Unauthenticated when the token cannot pass or the review says no;
  // Unavailable when the API server could not answer or no review slot
  // freed up in time (the message says which).
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // TokenReviews sent to the API server since start.
  int64_t reviews() const { return stats().reviews; }
  TokenReviewStats stats() const;

 private:
  struct Entry {
    Caller caller;
    absl::Time expires;
  };
  struct Refusal {
    absl::Status status;
    absl::Time expires;
  };
  // One review in flight; requests with the same token wait for it.
  struct Flight {
    Mutex mu;
    CondVar done_cv;
    bool done ABSL_GUARDED_BY(mu) = false;
    absl::StatusOr<Caller> result ABSL_GUARDED_BY(mu);
  };

  // The cached answer for `key` at `now`, if any (and counts the hit).
  std::optional<absl::StatusOr<Caller>> Cached(const std::string& key,
                                               absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a review slot, reviews, gives the slot back.
  absl::StatusOr<Caller> BoundedReview(const SecretData& token);
  absl::StatusOr<Caller> Review(const SecretData& token) const;
  void Remember(const std::string& key, const absl::StatusOr<Caller>& result,
                absl::Time token_exp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<const KubeApiClient> api_;
  const TokenReviewOptions options_;
  const std::unique_ptr<internal::FifoSemaphore> slots_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Refusal> refused_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_
      ABSL_GUARDED_BY(mu_);
  // Full caches are swept for expired entries at most this often, so a full
  // cache does not cost a scan per request.
  absl::Time next_cache_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_refused_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::atomic<int64_t> reviews_{0};
  std::atomic<int64_t> cache_hits_{0};
  std::atomic<int64_t> negative_cache_hits_{0};
  std::atomic<int64_t> locally_refused_{0};
  std::atomic<int64_t> coalesced_{0};
  std::atomic<int64_t> queue_timeouts_{0};
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_TOKEN_REVIEW_AUTHENTICATOR_H_
