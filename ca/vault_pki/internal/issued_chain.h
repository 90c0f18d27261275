#ifndef VAULTCA_CA_VAULT_PKI_INTERNAL_ISSUED_CHAIN_H_
#define VAULTCA_CA_VAULT_PKI_INTERNAL_ISSUED_CHAIN_H_

// What Vault's PKI sign endpoints answer, and the checks that turn it into
// an Istio chain. Internal to vaultca: exposes OpenSSL types.

#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"

namespace vaultca {
namespace ca {
namespace internal {

// The certificates of a sign response, PEM as Vault sent them.
struct SignResponse {
  // data.certificate.
  std::string certificate;
  // data.ca_chain elements, then data.issuing_ca. Each element may hold
  // one or more PEM blocks.
  std::vector<std::string> ca_pems;
};

// Parses the body of POST <mount>/sign/<role> (format=pem). Internal when
// the body is not JSON, has no data.certificate string, or ca_chain /
// issuing_ca have the wrong type.
absl::StatusOr<SignResponse> ParseSignResponse(absl::string_view body);

// What the leaf must be.
struct LeafExpectation {
  // The CSR's SubjectPublicKeyInfo, DER.
  absl::string_view public_key_der;
  // The requested identities: the leaf's SANs must be exactly these.
  const std::vector<std::string>* identities = nullptr;
  // Verification time.
  absl::Time now;
};

// Checks `response`'s leaf against `expect` and verifies it through the
// returned CA certificates to `roots`; returns [leaf, intermediates in path
// order, `root_bundle_pem`]. The trust anchor the path ends at is never
// repeated as an intermediate. Internal for an unusable response or a leaf
// that is not what was asked; FailedPrecondition when the path does not
// verify or a certificate on it is outside its validity.
absl::StatusOr<SignedChain> AssembleIstioChain(const SignResponse& response,
                                               STACK_OF(X509) * roots,
                                               const std::string& root_bundle_pem,
                                               const LeafExpectation& expect);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_VAULT_PKI_INTERNAL_ISSUED_CHAIN_H_
