#ifndef VAULTCA_SERVER_AUTH_CLIENT_CERT_AUTHENTICATOR_H_
#define VAULTCA_SERVER_AUTH_CLIENT_CERT_AUTHENTICATOR_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sync.h"
#include "server/auth/authenticator.h"

namespace vaultca {
namespace server {

struct ClientCertAuthenticatorOptions {
  // Only URI SANs of the form spiffe://<trust_domain>/ns/<ns>/sa/<sa> (see
  // ParseSpiffeServiceAccount) are identities; other SANs are ignored.
  // istiod takes every SAN, hence off by default.
  bool spiffe_only = false;
  std::string trust_domain;
};

// istiod's first authenticator: a TLS client certificate the transport has
// already verified against the mesh roots (the gRPC server is configured to
// request and verify one). The caller's identities are every SAN of the
// leaf, in certificate order: URIs, DNS names and IP addresses (text form),
// or with spiffe_only the SPIFFE service-account URIs of the trust domain.
// A leaf without any such SAN is refused.
//
// Parsing a certificate costs more CPU than the rest of a request together
// (OpenSSL 3 decodes its public key through the provider decoders), and a
// client sends the same certificate on every call of a connection, so the
// SANs of recent certificates are remembered, keyed by the exact PEM.
// Thread-safe.
class ClientCertAuthenticator : public Authenticator {
 public:
  // Certificates remembered; when full, the memory starts over.
  static constexpr size_t kMaxRemembered = 4096;

  explicit ClientCertAuthenticator(ClientCertAuthenticatorOptions options = {})
      : options_(std::move(options)) {}

  absl::string_view Name() const override { return "client-certificate"; }
  bool UsesBearerToken() const override { return false; }
  bool MayBlock() const override { return false; }
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override;

  size_t remembered() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<std::vector<std::string>> Sans(const std::string& pem)
      ABSL_LOCKS_EXCLUDED(mu_);

  const ClientCertAuthenticatorOptions options_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::string>> sans_
      ABSL_GUARDED_BY(mu_);
};

// Returns the URI, DNS and IP SANs of the certificate in `pem`, in order.
// InvalidArgument when the PEM does not parse.
absl::StatusOr<std::vector<std::string>> CertificateSans(
    absl::string_view pem);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_CLIENT_CERT_AUTHENTICATOR_H_
