#ifndef VAULTCA_SERVER_AUTH_CLIENT_CERT_AUTHENTICATOR_H_
#define VAULTCA_SERVER_AUTH_CLIENT_CERT_AUTHENTICATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth/authenticator.h"

namespace vaultca {
namespace server {

// istiod's first authenticator: a TLS client certificate the transport has
// already verified against the mesh roots (the gRPC server is configured to
// request and verify one). The caller's identities are every SAN of the
// leaf, in certificate order: URIs, DNS names and IP addresses (text form).
// A leaf without any such SAN is refused.
class ClientCertAuthenticator : public Authenticator {
 public:
  absl::string_view Name() const override { return "client-certificate"; }
  bool UsesBearerToken() const override { return false; }
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override;
};

// Returns the URI, DNS and IP SANs of the certificate in `pem`, in order.
// InvalidArgument when the PEM does not parse.
absl::StatusOr<std::vector<std::string>> CertificateSans(
    absl::string_view pem);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_CLIENT_CERT_AUTHENTICATOR_H_
