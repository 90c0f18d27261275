#ifndef VAULTCA_X509_INTERNAL_CSR_DER_H_
#define VAULTCA_X509_INTERNAL_CSR_DER_H_

// Splits a PKCS#10 CertificationRequest (RFC 2986) into the byte ranges the
// later checks need, without building OpenSSL objects (see der.h for why).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace x509 {
namespace internal {

// Views into the DER a CsrParts was split from; valid while it lives.
struct CsrParts {
  // The whole CertificationRequestInfo encoding: the signed bytes.
  absl::string_view info;
  // The subject Name, whole encoding.
  absl::string_view subject;
  // The SubjectPublicKeyInfo, whole encoding.
  absl::string_view public_key_info;
  // Its AlgorithmIdentifier: OID contents and the whole parameters
  // element (empty when absent).
  absl::string_view key_algorithm;
  absl::string_view key_parameters;
  // The subjectPublicKey BIT STRING, without its unused-bits byte.
  absl::string_view public_key;
  // The contents of the [0] attributes SET (empty when absent).
  absl::string_view attributes;
  // The signatureAlgorithm: OID contents and whole parameters element.
  absl::string_view signature_algorithm;
  absl::string_view signature_parameters;
  // The signature BIT STRING, without its unused-bits byte.
  absl::string_view signature;
};

// Splits `der`, which must be exactly one CertificationRequest with version
// 0. InvalidArgument naming the malformed part otherwise.
absl::Status SplitCsr(absl::string_view der, CsrParts* parts);

}  // namespace internal
}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_INTERNAL_CSR_DER_H_
