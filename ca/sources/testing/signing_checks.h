#ifndef VAULTCA_CA_SOURCES_TESTING_SIGNING_CHECKS_H_
#define VAULTCA_CA_SOURCES_TESTING_SIGNING_CHECKS_H_

// Helpers for tests that sign through a CertificateAuthority and check what
// comes back.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"

namespace vaultca {
namespace ca {
namespace testing {

// A request for testkit::TestCsrPem() (testing/csr.h) with identity spiffe://cluster.local/ns/<ns>/sa/<sa>.
SignRequest TestSignRequest(const std::string& ns = "default",
                            const std::string& sa = "test");

// OK when `chain` has the Istio shape and its leaf verifies at `now`
// through the chain's middle elements to the roots in `root_bundle_pem`
// (the trust bundle a workload holds), and carries testkit::TestCsrPem()'s key.
absl::Status VerifyIssued(const SignedChain& chain,
                          const std::string& root_bundle_pem,
                          absl::Time now = absl::Now());

// The leaf's issuer name in RFC 2253 form (e.g. "CN=inter-1,O=cluster.local").
absl::StatusOr<std::string> IssuerOf(const SignedChain& chain);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_TESTING_SIGNING_CHECKS_H_
