#ifndef VAULTCA_CA_INTERNAL_REQUEST_POLICY_H_
#define VAULTCA_CA_INTERNAL_REQUEST_POLICY_H_

// The request policy every vaultca CertificateAuthority applies before it
// issues anything, whoever holds the key: the local CA and the Vault PKI
// remote signer share it so that a request refused by one is refused by the
// other with the same status and message.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "x509/csr.h"
#include "ca/local_ca.h"

namespace vaultca {
namespace ca {
namespace internal {

// A request that passed the policy.
struct CheckedRequest {
  x509::ParsedCsr csr;
  // The lifetime to issue.
  absl::Duration ttl;
  // options.clock() when the request was checked.
  absl::Time now;
};

// Checks the TTL options: default_ttl and max_ttl positive, default_ttl <=
// max_ttl. InvalidArgument otherwise.
absl::Status ValidateTtlOptions(const LocalCaOptions& options);

// Settles the lifetime for `requested` at `now` for a signer whose
// certificate expires at `signer_not_after` (InfiniteFuture when the signer
// is remote and enforces its own limit): <= 0 -> default_ttl lowered to the
// signer's remaining life; above max_ttl -> InvalidArgument (kIstiod) or
// max_ttl (kClamp). FailedPrecondition once the signer has expired.
absl::StatusOr<absl::Duration> ResolveTtl(absl::Duration requested,
                                          absl::Time now,
                                          absl::Time signer_not_after,
                                          const LocalCaOptions& options);

// Parses and verifies the CSR with options.csr_policy, validates the
// identities, reads options.clock (which must be set) and resolves the TTL,
// in that order. InvalidArgument for the caller's mistakes.
absl::StatusOr<CheckedRequest> CheckRequest(const SignRequest& request,
                                            const LocalCaOptions& options,
                                            absl::Time signer_not_after);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_INTERNAL_REQUEST_POLICY_H_
