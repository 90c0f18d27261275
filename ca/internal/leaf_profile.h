#ifndef VAULTCA_CA_INTERNAL_LEAF_PROFILE_H_
#define VAULTCA_CA_INTERNAL_LEAF_PROFILE_H_

// istiod's workload certificate profile (Istio security/pkg/pki/util
// genCertTemplateFromCSR as written by Go's crypto/x509), built as DER and
// signed with the CA key. Internal: exposes OpenSSL types.
//
// The certificate, field by field:
//   version v3; serial 128 random bits (a positive INTEGER, minimal);
//   signature sha256WithRSAEncryption (RSA CA), ecdsa-with-SHA256 (P-256),
//   ecdsa-with-SHA384 (P-384), Ed25519; issuer = the CA cert's subject,
//   byte for byte; validity as given (UTCTime before 2050, else
//   GeneralizedTime); subject empty or CN=<first identity>; the CSR's
//   SubjectPublicKeyInfo; extensions in Go's order:
//     keyUsage digitalSignature|keyEncipherment (critical),
//     extKeyUsage serverAuth, clientAuth,
//     basicConstraints CA:FALSE (critical),
//     authorityKeyIdentifier keyid = the CA cert's SKI (only when it has
//       one, as Go does), no subjectKeyIdentifier,
//     subjectAltName (critical) with the identities.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace internal {

struct LeafRequest {
  // The subject's SubjectPublicKeyInfo, DER, copied as is.
  absl::string_view public_key_der;
  // SAN values; must have passed ValidateIdentities.
  const std::vector<std::string>* identities = nullptr;
  // Whether to set CN = DualUseCommonName(identities).
  bool dual_use_common_name = false;
  absl::Time not_before;
  absl::Time not_after;
};

// Signs leaves for one CA certificate and key. Everything that does not
// depend on the request (issuer name, signature algorithm, the constant
// extensions, an initialised signing context) is computed once, so that a
// signature costs little more than the private-key operation. Thread-safe.
class LeafSigner {
 public:
  // `issuer` and `key` are only read during Create (the key is
  // reference-counted by the signer). `key_type` selects the signature
  // algorithm.
  static absl::StatusOr<std::unique_ptr<LeafSigner>> Create(X509* issuer,
                                                            EVP_PKEY* key,
                                                            KeyType key_type);

  // Returns the DER certificate for `request`. Internal if the random
  // serial or the signature cannot be produced.
  absl::StatusOr<std::string> SignDer(const LeafRequest& request) const;

 private:
  LeafSigner() = default;

  ::vaultca::internal::SslUniquePtr<EVP_PKEY> key_;
  // A DigestSign context initialised once and copied per signature;
  // null for Ed25519, which is initialised per signature.
  ::vaultca::internal::SslUniquePtr<EVP_MD_CTX> sign_template_;
  size_t max_signature_size_ = 0;
  std::string signature_algorithm_;  // AlgorithmIdentifier, DER
  std::string issuer_;               // Name, DER
  std::string fixed_extensions_;     // KU, EKU, BC and AKI, DER
};

// Returns `t` as a DER UTCTime (1950-2049) or GeneralizedTime element,
// whole seconds (rounded down), as Go's x509 writes validity.
std::string DerTime(absl::Time t);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_INTERNAL_LEAF_PROFILE_H_
