#ifndef VAULTCA_TESTING_SIGNING_H_
#define VAULTCA_TESTING_SIGNING_H_

// Proving that a CertificateAuthority signs: a ready request and the
// checks on what comes back. The production probe that guards a CA before
// it goes live is ca/caching/internal/probe.h; this is its test-side
// counterpart.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/issuance_policy.h"

namespace vaultca {
namespace testkit {

// A request for TestCsrPem() (testing/csr.h), verified under
// IssuancePolicy::Default(), with identity
// spiffe://cluster.local/ns/<ns>/sa/<sa> and a one-hour TTL.
ca::SignRequest TestSignRequest(const std::string& ns = "default",
                                const std::string& sa = "test");

// `pem` verified under `policy` (IssuancePolicy::Default() when null), the
// way a front end verifies it before signing. A gtest failure, and
// nullopt, when it does not verify.
std::optional<ca::VerifiedCsr> MustVerify(
    const std::string& pem, const ca::IssuancePolicy* policy = nullptr);

// A request for `pem` verified under `ca`'s own policy (a gtest failure
// when it does not verify), for `identities` and `ttl`.
ca::SignRequest RequestFor(const ca::CertificateAuthority& ca,
                           const std::string& pem,
                           std::vector<std::string> identities,
                           absl::Duration ttl = absl::ZeroDuration());

// Verifies `chain` ([leaf, middle elements..., last]) at `now`: the leaf
// verifies through the middle elements (each may hold several
// certificates) to the roots in `root_bundle_pem`; the last element is
// not used. Returns the verified path, leaf first.
absl::StatusOr<std::vector<std::string>> VerifyToBundle(
    const std::vector<std::string>& chain, const std::string& root_bundle_pem,
    absl::Time now = absl::Now());

// OK when `chain` has the Istio shape and its leaf verifies at `now`
// through the chain's middle elements to the roots in `root_bundle_pem`
// (the trust bundle a workload holds), and carries TestCsrPem()'s key.
absl::Status VerifyIssued(const ca::SignedChain& chain,
                          const std::string& root_bundle_pem,
                          absl::Time now = absl::Now());

// The leaf's issuer name in RFC 2253 form (e.g. "CN=inter-1,O=cluster.local").
absl::StatusOr<std::string> IssuerOf(const ca::SignedChain& chain);

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_SIGNING_H_
