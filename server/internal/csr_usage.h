#ifndef VAULTCA_SERVER_INTERNAL_CSR_USAGE_H_
#define VAULTCA_SERVER_INTERNAL_CSR_USAGE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace server {
namespace internal {

// Checks the key usages a CSR requests: keyUsage may hold only
// digitalSignature and keyEncipherment, extendedKeyUsage only serverAuth
// and clientAuth; either may be absent. InvalidArgument naming the
// offending usage, or when `csr_pem` does not parse.
absl::Status CheckWorkloadUsages(absl::string_view csr_pem);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_CSR_USAGE_H_
