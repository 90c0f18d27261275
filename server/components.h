#ifndef VAULTCA_SERVER_COMPONENTS_H_
#define VAULTCA_SERVER_COMPONENTS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ca/caching/caching_ca.h"
#include "ca/managed_ca.h"
#include "ca/sources/material_source.h"
#include "server/auth/authenticator.h"
#include "server/certificate_handler.h"
#include "server/config.h"
#include "server/mesh/istiod_cert.h"
#include "server/mesh/root_publisher.h"

namespace vaultca {
namespace server {

// The caching CA's options from config.ca.
ca::CachingCaOptions BuildCachingCaOptions(const ServerConfig& config);

// The CA config.ca describes: the caching CA over `source` when not null,
// otherwise what the factory registered for config.ca.source creates
// (InvalidArgument listing the registered names for an unknown one). Loads
// the first material or issuer chain as config.ca.startup_policy says.
absl::StatusOr<std::unique_ptr<ca::ManagedCertificateAuthority>>
BuildCertificateAuthority(const ServerConfig& config,
                          std::unique_ptr<ca::MaterialSource> source);

// Who may call, and whom a node agent may speak for.
struct AuthComponents {
  // In istiod's order: client certificate (unless plain text), one JWT
  // authenticator per issuer, then Kubernetes TokenReview when enabled.
  std::vector<std::unique_ptr<Authenticator>> authenticators;
  // The Kubernetes node authorizer when trusted node accounts are
  // configured; null otherwise (impersonation is then refused).
  std::unique_ptr<ImpersonationAuthorizer> impersonation;
};

// Builds the authenticators and authorizer `config` describes, reading the
// JWKS files and resolving the Kubernetes API address. Fails with the
// cause when one cannot be built.
absl::StatusOr<AuthComponents> BuildAuthComponents(const ServerConfig& config);

// The handler's options from `config`.
CertificateHandlerOptions BuildHandlerOptions(const ServerConfig& config);

// The istio-ca-root-cert publisher config.mesh.root_configmap describes,
// started with no root (the server sets it once the material is loaded);
// null when it is off.
absl::StatusOr<std::unique_ptr<RootPublisher>> BuildRootPublisher(
    const ServerConfig& config);

// The istiod-tls keeper config.mesh.istiod_certificate describes, signing
// with `ca` (which must outlive it) and idle until SetCa; null when off.
absl::StatusOr<std::unique_ptr<IstiodCertificate>> BuildIstiodCertificate(
    const ServerConfig& config, ca::CertificateAuthority* ca);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_COMPONENTS_H_
