#ifndef VAULTCA_SERVER_AUTH_FUZZ_FUZZ_JWT_H_
#define VAULTCA_SERVER_AUTH_FUZZ_FUZZ_JWT_H_

// A JWT issuer whose key is the same in every process, for fuzz targets:
// a seed or a past finding holding a signed token must verify when it is
// replayed later, so the key cannot be generated at random per process.
// Not a secret: it only ever signs fuzz inputs.

#include <openssl/evp.h>

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace server {
namespace fuzzing {

// The fixed time fuzzed authenticators run at, so seed tokens never expire.
inline absl::Time FuzzNow() { return absl::FromUnixSeconds(1700000000); }

inline constexpr char kFuzzIssuer[] =
    "https://kubernetes.default.svc.cluster.local";
inline constexpr char kFuzzKid[] = "fuzz-es256";

// The EC P-256 key derived from a fixed scalar; lives for the process.
EVP_PKEY* FuzzJwtKey();

// {"keys": [<the key's public half, kid kFuzzKid, alg ES256>]}.
std::string FuzzJwksJson();

// Returns header.payload.signature, ES256 with FuzzJwtKey(), for the given
// JSON texts (used as written, so seeds can hold odd headers).
std::string SignFuzzJwt(absl::string_view header_json,
                        absl::string_view claims_json);

// A projected service-account token for ns/sa, issued at FuzzNow() by
// kFuzzIssuer for audience istio-ca, with a kubernetes.io claim.
std::string FuzzSaToken(absl::string_view kube_namespace,
                        absl::string_view service_account);

}  // namespace fuzzing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_FUZZ_FUZZ_JWT_H_
