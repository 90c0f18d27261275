#ifndef VAULTCA_X509_CHAIN_VERIFY_H_
#define VAULTCA_X509_CHAIN_VERIFY_H_

// Path validation of a certificate against a set of trusted roots.
// Internal to vaultca: exposes OpenSSL types.

#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::SslUniquePtr;

// Verifies `cert` at time `now` through the untrusted `chain` (may be null,
// may contain `cert` itself and the roots) to one of `roots`, which act as
// trust anchors even when they are not self-signed (as Go's x509.Verify
// treats its root pool, which istiod uses). No purpose is enforced; every
// certificate above `cert` must be a CA.
//
// Returns the validated path [cert, ..., anchor]. On failure: a time error
// (a certificate on the path expired or not yet valid) is
// FailedPrecondition, anything else InvalidArgument; both start with
// `what` and name the failing certificate.
absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> VerifyToRoots(
    X509* cert, STACK_OF(X509) * chain, STACK_OF(X509) * roots,
    absl::Time now, absl::string_view what);

// Checks that certificates issued by path[0] would still verify: every CA
// above it with a pathLenConstraint must allow the intermediates below it,
// counting path[0] itself as one (RFC 5280 6.1.4 (l), (m)). `path` is a
// validated [signer, ..., anchor]. InvalidArgument starting with `what`.
absl::Status CheckPathAllowsIssuance(STACK_OF(X509) * path,
                                     absl::string_view what);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_CHAIN_VERIFY_H_
