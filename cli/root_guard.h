#ifndef VAULTCA_CLI_ROOT_GUARD_H_
#define VAULTCA_CLI_ROOT_GUARD_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace cli {

// Decides whether `next` may replace `previous` (material already handed
// to istiod) with the caching CA's own rule, so `vaultca sync` and
// vaultca-server accept and refuse the same rotations: `next` must pass
// every serving check and keep every root of `previous` (an intermediate
// rotation, or a bundle that grew to trust a new root too), unless
// `multi_root` (ISTIO_MULTIROOT_MESH). A `previous` that no longer passes
// the checks itself (expired, damaged) guards nothing.
// FailedPrecondition naming the dropped roots and the fix when the root
// change would split the mesh; the validation error otherwise.
absl::Status CheckRootTransition(const ca::CaMaterialPem& previous,
                                 const ca::CaMaterialPem& next,
                                 bool multi_root, absl::Time now);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_ROOT_GUARD_H_
