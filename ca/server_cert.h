#ifndef VAULTCA_CA_SERVER_CERT_H_
#define VAULTCA_CA_SERVER_CERT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {

// A TLS server certificate for a server's own endpoint (vaultca's gRPC
// port), not a workload certificate.
struct ServerCertRequest {
  // A PEM PKCS#10 CSR; only its public key is used (the caller made it
  // for its own key).
  std::string csr_pem;
  // DNS names and IP literals, each becoming a DNS or IP subjectAltName.
  std::vector<std::string> names;
  absl::Time not_before;
  absl::Time not_after;
};

// Signs a server certificate with `bundle` directly. Unlike the workload
// profile (CertificateAuthority::Sign), which also grants clientAuth, it is
// for server authentication only, so a server key kept on disk cannot act
// as a client certificate for its names: keyUsage digitalSignature
// (critical), extendedKeyUsage serverAuth, CA:FALSE (critical), the CA's
// authority key id, the SANs (critical: the subject is empty), a 128-bit
// random serial; SHA-256 (SHA-384 for a P-384 CA, none for Ed25519).
// Returns the leaf PEM; Internal naming the step that failed.
absl::StatusOr<std::string> IssueServerCertificate(
    const KeyCertBundle& bundle, const ServerCertRequest& request);

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SERVER_CERT_H_
