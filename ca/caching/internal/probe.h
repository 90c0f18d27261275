#ifndef VAULTCA_CA_CACHING_INTERNAL_PROBE_H_
#define VAULTCA_CA_CACHING_INTERNAL_PROBE_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {
namespace internal {

// Proves `ca` can sign with `bundle` before it goes live: requests a
// throwaway leaf for a process-wide P-256 probe key and checks that the
// answer has the Istio shape ([leaf, each of bundle.chain_pems(),
// bundle.root_bundle_pem()]), that the leaf carries the probe key, and
// that it verifies at `now` through the chain to `bundle`'s roots.
// Returns InvalidArgument naming the failed step otherwise.
absl::Status ProbeSigning(CertificateAuthority& ca, const KeyCertBundle& bundle,
                          absl::Time now);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_INTERNAL_PROBE_H_
