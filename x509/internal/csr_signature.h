#ifndef VAULTCA_X509_INTERNAL_CSR_SIGNATURE_H_
#define VAULTCA_X509_INTERNAL_CSR_SIGNATURE_H_

// Verification of a CSR's self-signature. Internal: exposes OpenSSL types.

#include "absl/status/status.h"
#include "x509/internal/csr_der.h"
#include "x509/internal/csr_key.h"

namespace vaultca {
namespace x509 {
namespace internal {

// Verifies `parts.signature` over `parts.info` with `key`, as
// X509_REQ_verify does: the signatureAlgorithm picks the digest and must
// match the key's algorithm. Accepts sha256/384/512WithRSAEncryption,
// ecdsa-with-SHA256/384/512 and Ed25519; refuses SHA-1 (as Go's x509 does
// for CSRs) and RSA-PSS. Every failure is InvalidArgument.
absl::Status VerifyCsrSignature(const CsrParts& parts, const CsrKey& key);

}  // namespace internal
}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_INTERNAL_CSR_SIGNATURE_H_
