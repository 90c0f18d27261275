#ifndef VAULTCA_TESTING_TEST_JWT_H_
#define VAULTCA_TESTING_TEST_JWT_H_

// JWTs and JWKS documents built at test time: service-account-style tokens
// for vaultca's authenticators and for a real Vault's jwt and kubernetes
// auth methods. Aborts the test binary when OpenSSL fails, since no test
// can go on without its tokens.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vaultca {
namespace testkit {

// A signing key: "RS256" (RSA 2048) or "ES256" (P-256). `slot` picks a
// different cached key (testing/test_pki.h).
struct TestJwtKey {
  std::string kid;
  std::string alg = "RS256";
  int slot = 0;
};

// Returns {"keys": [...]} with the public halves of `keys`.
std::string JwksJson(const std::vector<TestJwtKey>& keys);

// The public half of `key` as a "PUBLIC KEY" PEM (what Vault's
// jwt_validation_pubkeys takes).
std::string PublicKeyPem(const TestJwtKey& key);

// Signs `claims_json` with `key`; the header carries alg, typ and kid (no
// kid when empty). `header_alg` overrides the alg written in the header.
std::string SignJwt(const TestJwtKey& key, const std::string& claims_json,
                    const std::string& header_alg = "");

// Claims of a projected Kubernetes service-account token, as the API
// server issues them for istio-agent.
struct SaClaims {
  std::string issuer = "https://kubernetes.default.svc.cluster.local";
  std::vector<std::string> audiences = {"istio-ca"};
  std::string kube_namespace = "default";
  std::string service_account = "sleep";
  std::string service_account_uid = "sa-uid";
  // The "pod" member of the "kubernetes.io" claim; none when empty.
  std::string pod_name = "sleep-1";
  std::string pod_uid = "uid-1";
  absl::Time issued_at = absl::Now();
  absl::Duration lifetime = absl::Hours(1);
  // Also write a "kubernetes.io" claim (projected tokens have one).
  bool kubernetes_claim = true;
  // Also write the flat "kubernetes.io/serviceaccount/..." claims that
  // Secret-based (legacy) service-account tokens carry.
  bool legacy_claims = false;
  // Override "sub" ("" = system:serviceaccount:<ns>:<sa>).
  std::string subject;
};
std::string SaClaimsJson(const SaClaims& claims);

// SaClaimsJson for `ns`/`sa` (uid 11111111-2222-3333-4444-555555555555)
// with audience `aud`, in both the projected and the legacy form, without
// a pod, valid for an hour from a minute ago so that a peer whose clock
// rounds differently still finds it valid.
std::string ServiceAccountClaims(absl::string_view ns, absl::string_view sa,
                                 absl::string_view aud);

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_TEST_JWT_H_
