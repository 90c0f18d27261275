#ifndef VAULTCA_SERVER_TESTING_CERT_INSPECT_H_
#define VAULTCA_SERVER_TESTING_CERT_INSPECT_H_

// Looks inside issued certificates, for tests only.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vaultca {
namespace server {
namespace testing {

struct LeafInfo {
  absl::Time not_before;
  absl::Time not_after;
  // URI, DNS and IP SANs in certificate order.
  std::vector<std::string> sans;
  bool san_critical = false;
  // RFC 2253.
  std::string subject;
  std::string issuer;
};

// Parses the first certificate of `pem`.
absl::StatusOr<LeafInfo> InspectLeaf(const std::string& pem);

// Verifies `chain[0]` (an IstioCertificateResponse cert_chain, or any
// [leaf, intermediates...]) against the roots in `roots_pem`, using every
// other element as untrusted intermediates, for TLS client and server
// purposes at the current time.
absl::Status VerifyLeaf(const std::vector<std::string>& chain,
                        const std::string& roots_pem);

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_TESTING_CERT_INSPECT_H_
