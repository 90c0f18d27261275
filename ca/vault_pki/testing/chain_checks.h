#ifndef VAULTCA_CA_VAULT_PKI_TESTING_CHAIN_CHECKS_H_
#define VAULTCA_CA_VAULT_PKI_TESTING_CHAIN_CHECKS_H_

// Test-only: checks a chain the way a workload would, independently of the
// code under test (strict OpenSSL path validation, no partial chains).

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"

namespace vaultca {
namespace ca {
namespace testing {

// OK when `chain` is [leaf, `intermediates` intermediates, root bundle],
// its last element equals `root_bundle_pem`, no intermediate is one of the
// roots or repeated, the leaf verifies at `now` through the intermediates
// to a self-signed root of the bundle with X509_PURPOSE_ANY, carries the
// key `public_key_der` (SubjectPublicKeyInfo DER) and the URI SAN
// `spiffe_id`.
absl::Status CheckIstioChain(const SignedChain& chain,
                             const std::string& root_bundle_pem,
                             int intermediates,
                             const std::string& public_key_der,
                             const std::string& spiffe_id,
                             absl::Time now = absl::Now());

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_VAULT_PKI_TESTING_CHAIN_CHECKS_H_
