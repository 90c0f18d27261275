#ifndef VAULTCA_SERVER_AUTH_JWT_AUTHENTICATOR_H_
#define VAULTCA_SERVER_AUTH_JWT_AUTHENTICATOR_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "server/auth/authenticator.h"

namespace vaultca {
namespace server {
namespace internal {
class Jwks;
}  // namespace internal

struct JwtAuthenticatorOptions {
  // The token's "iss" must equal it.
  std::string issuer;
  // JWKS file with the issuer's keys; re-read when it changes.
  std::string jwks_file;
  // The token's "aud" must contain at least one of them.
  std::vector<std::string> audiences = {"istio-ca"};
  // Identities are spiffe://<trust_domain>/ns/<ns>/sa/<sa>.
  std::string trust_domain = "cluster.local";
  // Tolerance applied to exp, nbf and iat.
  absl::Duration clock_skew = absl::Seconds(60);
  // The JWKS file is checked for changes at most this often.
  absl::Duration jwks_recheck_interval = absl::Seconds(1);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// Verifies bearer JWTs locally against an issuer's JWKS, as istiod's OIDC
// authenticator: signature (RS256 or ES256, key chosen by "kid"), "iss",
// "aud", "exp" (required), "nbf" and "iat" within the clock skew. The
// caller is the Kubernetes service account the token names, taken from the
// "kubernetes.io" claim (namespace, serviceaccount.name, pod) when present,
// else from "sub" = system:serviceaccount:<ns>:<sa>; when both are present
// they must agree. Thread-safe.
class JwtAuthenticator : public Authenticator {
 public:
  // Loads the JWKS. InvalidArgument for bad options or an unusable JWKS,
  // NotFound when the file cannot be read.
  static absl::StatusOr<std::unique_ptr<JwtAuthenticator>> New(
      JwtAuthenticatorOptions options);
  ~JwtAuthenticator() override;

  absl::string_view Name() const override { return "jwt"; }
  bool UsesBearerToken() const override { return true; }
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override;

 private:
  JwtAuthenticator(JwtAuthenticatorOptions options,
                   std::shared_ptr<const internal::Jwks> jwks,
                   std::string file_stamp);
  // The current key set, re-reading the file when it changed. A file that
  // turns unreadable or invalid keeps the previous keys in use.
  std::shared_ptr<const internal::Jwks> CurrentJwks() ABSL_LOCKS_EXCLUDED(mu_);

  const JwtAuthenticatorOptions options_;
  Mutex mu_;
  std::shared_ptr<const internal::Jwks> jwks_ ABSL_GUARDED_BY(mu_);
  std::string file_stamp_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_);
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_JWT_AUTHENTICATOR_H_
