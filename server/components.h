#ifndef VAULTCA_SERVER_COMPONENTS_H_
#define VAULTCA_SERVER_COMPONENTS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ca/caching/caching_ca.h"
#include "ca/sources/material_source.h"
#include "server/auth/authenticator.h"
#include "server/certificate_handler.h"
#include "server/config.h"

namespace vaultca {
namespace server {

// Builds the CA material source config.ca describes.
absl::StatusOr<std::unique_ptr<ca::MaterialSource>> BuildMaterialSource(
    const ServerConfig& config);

// The caching CA's options from config.ca.
ca::CachingCaOptions BuildCachingCaOptions(const ServerConfig& config);

// The authenticators in istiod's order: client certificate (unless
// plain text), then one JWT authenticator per issuer. Unimplemented when
// token_review is enabled (not available in this build).
absl::StatusOr<std::vector<std::unique_ptr<Authenticator>>>
BuildAuthenticators(const ServerConfig& config);

// The handler's options from `config`.
CertificateHandlerOptions BuildHandlerOptions(const ServerConfig& config);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_COMPONENTS_H_
