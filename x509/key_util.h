#ifndef VAULTCA_X509_KEY_UTIL_H_
#define VAULTCA_X509_KEY_UTIL_H_

// Key generation and classification for the key types vaultca signs with.
// Internal to vaultca: exposes OpenSSL types.

#include <openssl/evp.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "x509/key_type.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::SslUniquePtr;

// Generates a fresh key with EVP_PKEY_Q_keygen: RSA 2048, EC P-256, EC
// P-384 or Ed25519.
absl::StatusOr<SslUniquePtr<EVP_PKEY>> GenerateKey(KeyType type);

// Returns the KeyType of `key`. InvalidArgument, prefixed with `what`, for
// a key vaultca will not sign with: RSA under 2048 bits, an EC curve other
// than P-256 or P-384, or any other algorithm (RSA-PSS, Ed448, DSA, ...).
absl::StatusOr<KeyType> ClassifyKey(const EVP_PKEY* key,
                                    absl::string_view what);

// Returns the OpenSSL digest name for certificate signatures made by a key
// of `type` ("SHA256" for RSA and P-256, "SHA384" for P-384), or nullptr
// for Ed25519, which signs without a separate digest.
const char* SignatureDigestName(KeyType type);

// Fetches SignatureDigestName(type) once so signers do not pay OpenSSL 3's
// implicit fetch per signature. Yields nullptr for Ed25519.
absl::StatusOr<SslUniquePtr<EVP_MD>> FetchSignatureDigest(KeyType type);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_KEY_UTIL_H_
