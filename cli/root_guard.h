#ifndef VAULTCA_CLI_ROOT_GUARD_H_
#define VAULTCA_CLI_ROOT_GUARD_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
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

// istiod's own rule for plug-in files it reloads while running (its
// handleEvent in pilot/pkg/bootstrap/istio_ca.go): a root-cert.pem that
// differs from the one in service in any byte is taken only with
// ISTIO_MULTIROOT_MESH=true (`multi_root`) and only when the certificates
// of one bundle contain those of the other. Otherwise istiod logs a warning
// and keeps its whole CA, the intermediate too, until it restarts: the
// files would then say one thing and istiod do another, and replicas that
// restart would sign under a root the others do not serve.
// FailedPrecondition saying what istiod would do and the fix.
absl::Status CheckIstiodReload(absl::string_view previous_roots_pem,
                               absl::string_view next_roots_pem, bool multi_root);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_ROOT_GUARD_H_
