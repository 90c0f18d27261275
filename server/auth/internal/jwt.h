#ifndef VAULTCA_SERVER_AUTH_INTERNAL_JWT_H_
#define VAULTCA_SERVER_AUTH_INTERNAL_JWT_H_

// Compact-serialised JWS decoding and signature verification (RFC 7515,
// 7519). Internal: exposes OpenSSL types.

#include <openssl/evp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/auth/internal/jwks.h"

namespace vaultca {
namespace server {
namespace internal {

// Tokens above this size are refused before any decoding.
inline constexpr size_t kMaxJwtBytes = 16 * 1024;

struct DecodedJwt {
  JwsAlgorithm algorithm;
  std::string kid;
  nlohmann::json claims;  // An object.
  // "<header>.<payload>" as sent: what the signature covers.
  std::string signing_input;
  std::string signature;
};

// Splits and decodes `token` without verifying anything but its shape: three
// base64url parts, a JSON object header with an accepted "alg" and no
// "crit", a JSON object payload. Unauthenticated with a message that never
// repeats the token.
absl::StatusOr<DecodedJwt> DecodeJwt(absl::string_view token);

// Verifies the signature of `jwt` with `key` (RS256: RSASSA-PKCS1-v1_5
// SHA-256; ES256: ECDSA P-256 SHA-256 over the 64-byte r||s form).
// Unauthenticated when it does not verify.
absl::Status VerifyJwtSignature(const DecodedJwt& jwt, EVP_PKEY* key);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_INTERNAL_JWT_H_
