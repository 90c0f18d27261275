#ifndef VAULTCA_SERVER_AUTH_TESTING_TEST_JWT_H_
#define VAULTCA_SERVER_AUTH_TESTING_TEST_JWT_H_

// JWTs and JWKS documents built at test time, for tests only. Aborts the
// test binary when OpenSSL fails.

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vaultca {
namespace server {
namespace testing {

// A signing key: "RS256" (RSA 2048) or "ES256" (P-256). `slot` picks a
// different cached key (testing/test_pki.h).
struct TestJwtKey {
  std::string kid;
  std::string alg = "RS256";
  int slot = 0;
};

// Returns {"keys": [...]} with the public halves of `keys`.
std::string JwksJson(const std::vector<TestJwtKey>& keys);

// Signs `claims_json` with `key`; the header carries alg and kid (no kid
// when empty). `header_alg` overrides the alg written in the header.
std::string SignJwt(const TestJwtKey& key, const std::string& claims_json,
                    const std::string& header_alg = "");

// Claims of a projected Kubernetes service-account token, as the API
// server issues them for istio-agent.
struct SaClaims {
  std::string issuer = "https://kubernetes.default.svc.cluster.local";
  std::vector<std::string> audiences = {"istio-ca"};
  std::string kube_namespace = "default";
  std::string service_account = "sleep";
  std::string pod_name = "sleep-1";
  std::string pod_uid = "uid-1";
  absl::Time issued_at = absl::Now();
  absl::Duration lifetime = absl::Hours(1);
  // Also write a "kubernetes.io" claim (projected tokens have one).
  bool kubernetes_claim = true;
  // Override "sub" ("" = system:serviceaccount:<ns>:<sa>).
  std::string subject;
};
std::string SaClaimsJson(const SaClaims& claims);

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_TESTING_TEST_JWT_H_
