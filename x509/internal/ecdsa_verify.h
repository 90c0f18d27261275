#ifndef VAULTCA_X509_INTERNAL_ECDSA_VERIFY_H_
#define VAULTCA_X509_INTERNAL_ECDSA_VERIFY_H_

// ECDSA verification with a bare EC_KEY, for the CSR hot path. Internal:
// exposes OpenSSL types.

#include <openssl/evp.h>
#include <openssl/opensslconf.h>
#include <openssl/types.h>

#include <memory>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace x509 {
namespace internal {

// Whether the functions below are available: they use OpenSSL's low-level
// EC API, deprecated in 3.0 and absent from builds configured without
// deprecated APIs. Without it, CSR keys go through EVP.
#ifdef OPENSSL_NO_DEPRECATED_3_0
inline constexpr bool kHaveLowLevelEcdsa = false;
#else
inline constexpr bool kHaveLowLevelEcdsa = true;
#endif

struct EcKeyFree {
  void operator()(EC_KEY* key) const;
};
using EcKeyPtr = std::unique_ptr<EC_KEY, EcKeyFree>;

// The public key `point` (SEC 1 encoding) on the curve `curve_nid`
// (NID_X9_62_prime256v1 or NID_secp384r1). Null when the point does not
// decode or is not on the curve, or without kHaveLowLevelEcdsa; OpenSSL's
// error queue is left empty.
EcKeyPtr EcPublicKey(int curve_nid, absl::string_view point);

// Verifies the DER ECDSA signature `signature` over `message` with digest
// `md`. Returns false on any failure, leaving OpenSSL's error queue empty.
//
// Why not EVP: a CSR key is used once. On OpenSSL 3.0, copying an EC
// EVP_PKEY and setting up its verification context look the key manager
// up by name through the legacy method tables and fetch the signature
// algorithm (9% of a P-256 request's server CPU in profiles), where the
// curve arithmetic is the same. ECDSA_verify on a bare EC_KEY skips them.
bool VerifyEcdsa(const EC_KEY* key, const EVP_MD* md, absl::string_view message,
                 absl::string_view signature);

}  // namespace internal
}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_INTERNAL_ECDSA_VERIFY_H_
