#ifndef VAULTCA_X509_INTERNAL_CSR_KEY_H_
#define VAULTCA_X509_INTERNAL_CSR_KEY_H_

// The CSR's public key: classification, key policy, and an EVP_PKEY to
// verify the CSR's self-signature with. Internal: exposes OpenSSL types.

#include <openssl/evp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "x509/csr.h"
#include "x509/internal/csr_der.h"
#include "x509/internal/ecdsa_verify.h"
#include "x509/key_type.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace x509 {
namespace internal {

struct CsrKey {
  KeyType type = KeyType::kRsa;
  // RSA modulus bits, or the curve size.
  int bits = 0;
  // The key to verify with. Left null for RSA when kHaveLowLevelRsa (the
  // signature check then uses `rsa_modulus` and `rsa_exponent` directly)
  // and for EC when kHaveLowLevelEcdsa (it uses `ec_key`).
  ::vaultca::internal::SslUniquePtr<EVP_PKEY> pkey;
  // RSA only: big-endian magnitudes, views into the CSR DER.
  absl::string_view rsa_modulus;
  absl::string_view rsa_exponent;
  // EC only, when `pkey` is null.
  EcKeyPtr ec_key;
};

// Classifies the public key of `parts`, enforces `policy` and builds the
// key. InvalidArgument naming the key ("RSA 1024", "EC secp521r1",
// "Ed25519", "DSA", ...) and what the policy allows when it is refused;
// InvalidArgument when the key is malformed or not canonical (RSA without
// NULL parameters, explicit or compressed EC points, off-curve points).
//
// Builds keys straight into the default provider (EVP_PKEY_fromdata, or a
// copy of a per-curve template for EC) instead of d2i_PUBKEY: OpenSSL 3.0's
// decoder framework costs hundreds of microseconds per key, and building an
// EC group from its name costs more than the ECDSA verification itself.
// RSA keys are not built at all where VerifyRsaPkcs1 is available, and EC
// keys are bare EC_KEYs where VerifyEcdsa is. `evp_only` builds an EVP_PKEY
// for them too (the path builds without the low-level API take), so tests
// can cover it everywhere.
absl::StatusOr<CsrKey> ParseCsrKey(const CsrParts& parts,
                                   const CsrPolicy& policy,
                                   bool evp_only = false);

// Whether `policy` accepts a key of `type` and `bits` (RSA modulus bits;
// ignored for the curves): OK, or the InvalidArgument ParseCsrKey answers
// for it ("CSR key RSA 1024 is not allowed: use ...").
absl::Status CheckKeyAllowed(KeyType type, int bits, const CsrPolicy& policy);

// Returns what `policy` accepts, e.g. "RSA 2048-8192 bits, ECDSA P-256 or
// ECDSA P-384".
std::string AllowedKeysText(const CsrPolicy& policy);

}  // namespace internal
}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_INTERNAL_CSR_KEY_H_
