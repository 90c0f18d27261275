#ifndef VAULTCA_SERVER_INTERNAL_KEY_CSR_H_
#define VAULTCA_SERVER_INTERNAL_KEY_CSR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/secret_data.h"

namespace vaultca {
namespace server {
namespace internal {

// Returns a PKCS#10 CSR (PEM) with an empty subject and no extensions,
// signed by the private key in `key_pem` (SHA-256). The CA decides the
// names; the CSR only proves possession of the key.
absl::StatusOr<std::string> CsrForKey(const SecretData& key_pem);

// Returns the validity of the first certificate in `pem`.
struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};
absl::StatusOr<Validity> CertificateValidity(const std::string& pem);

// Returns the earliest NotAfter over every certificate in `pem` (a root
// bundle or a chain); InvalidArgument when none parses.
absl::StatusOr<absl::Time> EarliestNotAfter(const std::string& pem);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_KEY_CSR_H_
