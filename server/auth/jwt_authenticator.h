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
  // Where the issuer's keys come from, exactly one of:
  //  - jwks_file: a JWKS file, re-read when it changes;
  //  - jwks_uri: an https URL of the JWKS;
  //  - oidc_discovery: the "jwks_uri" of the issuer's
  //    /.well-known/openid-configuration (the issuer must be an https URL).
  // Fetched key sets are refreshed every jwks_refresh_interval and, when a
  // token names an unknown key id (the issuer rotated its keys), at most
  // every jwks_min_refetch_interval. A failed fetch keeps the keys in use.
  std::string jwks_file;
  std::string jwks_uri;
  bool oidc_discovery = false;
  // CA bundle for fetching; empty: the system trust store.
  std::string jwks_ca_file;
  absl::Duration jwks_refresh_interval = absl::Minutes(5);
  absl::Duration jwks_min_refetch_interval = absl::Seconds(30);
  absl::Duration jwks_fetch_timeout = absl::Seconds(10);
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
  // Loads the JWKS. InvalidArgument for bad options or an unusable JWKS
  // file, NotFound when the file cannot be read. A JWKS URL that cannot be
  // fetched yet is not an error: tokens are refused (Unauthenticated) until
  // a fetch succeeds, so an issuer outage at start-up heals by itself.
  static absl::StatusOr<std::unique_ptr<JwtAuthenticator>> New(
      JwtAuthenticatorOptions options);
  ~JwtAuthenticator() override;

  absl::string_view Name() const override { return "jwt"; }
  bool UsesBearerToken() const override { return true; }
  // A JWKS file is re-read locally; a remote JWKS may be fetched on an
  // unknown key id.
  bool MayBlock() const override { return remote(); }
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override;

 private:
  JwtAuthenticator(JwtAuthenticatorOptions options,
                   std::shared_ptr<const internal::Jwks> jwks,
                   std::string file_stamp);
  bool remote() const { return options_.jwks_file.empty(); }
  // The current key set (null while a remote JWKS was never fetched).
  // Re-reads the file when it changed, or re-fetches the remote set when
  // due; `unknown_kid` asks for an early re-fetch. A source that turns
  // unreadable or invalid keeps the previous keys in use.
  std::shared_ptr<const internal::Jwks> CurrentJwks(bool unknown_kid)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<const internal::Jwks> ReloadFile() ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<const internal::Jwks> RefetchRemote(bool unknown_kid)
      ABSL_LOCKS_EXCLUDED(mu_);

  const JwtAuthenticatorOptions options_;
  Mutex mu_;
  std::shared_ptr<const internal::Jwks> jwks_ ABSL_GUARDED_BY(mu_);
  std::string file_stamp_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_);
  // One remote fetch at a time; other callers keep using jwks_ meanwhile.
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_JWT_AUTHENTICATOR_H_
