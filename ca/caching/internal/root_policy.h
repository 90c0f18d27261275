#ifndef VAULTCA_CA_CACHING_INTERNAL_ROOT_POLICY_H_
#define VAULTCA_CA_CACHING_INTERNAL_ROOT_POLICY_H_

#include "absl/status/status.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {
namespace internal {

// Decides whether `next` may replace `current` without splitting the mesh.
//
// A root of `current` counts as kept when `next`'s root bundle holds the
// same certificate, or a certificate with the same subject and public key
// (a root re-issued with its key, as istiod's self-signed renewal does:
// everything signed under one verifies under the other). When every root
// is kept (an intermediate rotation, or a bundle that grew to trust a new
// root too) the change is accepted. Otherwise it is accepted only with
// `multi_root` (ISTIO_MULTIROOT_MESH: trust bundles are distributed out of
// band), else FailedPrecondition naming the dropped roots' fingerprints
// and the fix.
absl::Status CheckRootTransition(const KeyCertBundle& current,
                                 const KeyCertBundle& next, bool multi_root);

// True when `next` keeps every root of `current` (as above).
bool KeepsAllRoots(const KeyCertBundle& current, const KeyCertBundle& next);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_INTERNAL_ROOT_POLICY_H_
