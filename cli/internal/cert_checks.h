#ifndef VAULTCA_CLI_INTERNAL_CERT_CHECKS_H_
#define VAULTCA_CLI_INTERNAL_CERT_CHECKS_H_

// Certificate-by-certificate inspection for the operator's report. The
// signing core (ca/KeyCertBundle) stops at the first problem; a report
// wants one line per certificate and per property, so these look at each
// one separately.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/secret_data.h"

namespace vaultca {
namespace cli {
namespace internal {

struct CertInfo {
  std::string subject;  // RFC 2253.
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;          // basicConstraints CA:TRUE.
  bool key_cert_sign = false;  // keyUsage keyCertSign (or no keyUsage).
  bool self_signed = false;
  std::string pem;  // The certificate alone, with a trailing newline.
};

// Parses every CERTIFICATE block of `pem`, in order. InvalidArgument when
// a block does not parse or when there is none.
absl::StatusOr<std::vector<CertInfo>> ParseCertificates(absl::string_view pem);

// OK when `key_pem` parses (never prompting for a passphrase) and is the
// private key of `cert_pem`'s public key; InvalidArgument otherwise.
absl::Status KeyMatchesCertificate(const SecretData& key_pem,
                                   absl::string_view cert_pem);

// Verifies `leaf_pem` through `intermediates_pem` (may be empty) to one of
// `roots_pem` as of `at`. InvalidArgument with OpenSSL's reason otherwise.
absl::Status VerifyChain(absl::string_view leaf_pem,
                         absl::string_view intermediates_pem,
                         absl::string_view roots_pem, absl::Time at);

}  // namespace internal
}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_INTERNAL_CERT_CHECKS_H_
