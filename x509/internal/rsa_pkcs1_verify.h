#ifndef VAULTCA_X509_INTERNAL_RSA_PKCS1_VERIFY_H_
#define VAULTCA_X509_INTERNAL_RSA_PKCS1_VERIFY_H_

// RSASSA-PKCS1-v1_5 verification from a raw modulus and exponent, for the
// CSR hot path. Internal: exposes OpenSSL types.

#include <openssl/evp.h>
#include <openssl/opensslconf.h>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace x509 {
namespace internal {

// Whether VerifyRsaPkcs1 is available: it uses OpenSSL's low-level RSA
// API, deprecated in 3.0 and absent from builds configured without
// deprecated APIs. Without it, CSR keys go through EVP like EC keys.
#ifdef OPENSSL_NO_DEPRECATED_3_0
inline constexpr bool kHaveLowLevelRsa = false;
#else
inline constexpr bool kHaveLowLevelRsa = true;
#endif

// Verifies `signature` over `message` with the RSA public key (`modulus`,
// `exponent`: big-endian magnitudes) and digest `md` (SHA-256/384/512).
// The signature must be exactly as long as the modulus, as Go requires.
// Returns false on any failure, leaving OpenSSL's error queue empty.
//
// Why not EVP: a CSR key is used once. On OpenSSL 3.0, building an
// EVP_PKEY and its verification context walks the key manager's names
// through the legacy method tables twice (EVP_PKEY_fromdata,
// EVP_DigestVerifyInit), which costs about as much as the RSA public-key
// operation itself. RSA_verify on a bare RSA object skips all of it.
bool VerifyRsaPkcs1(absl::string_view modulus, absl::string_view exponent,
                    const EVP_MD* md, absl::string_view message,
                    absl::string_view signature);

}  // namespace internal
}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_INTERNAL_RSA_PKCS1_VERIFY_H_
