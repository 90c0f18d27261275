#ifndef VAULTCA_SERVER_AUTH_INTERNAL_JWKS_FETCH_H_
#define VAULTCA_SERVER_AUTH_INTERNAL_JWKS_FETCH_H_

// Fetches an issuer's JWKS over HTTPS, directly or through OIDC discovery.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/auth/internal/jwks.h"

namespace vaultca {
namespace server {
namespace internal {

struct JwksFetchOptions {
  // The JWKS URL; empty: discovered from
  // <issuer>/.well-known/openid-configuration's "jwks_uri".
  std::string jwks_uri;
  std::string issuer;
  // CA bundle for the HTTPS peers; empty: the system trust store.
  std::string ca_file;
  absl::Duration timeout = absl::Seconds(10);
};

// The "jwks_uri" of an OpenID Connect discovery document fetched for
// `issuer`. InvalidArgument when the document is not a JSON object, its
// "issuer" is not exactly `issuer` (OpenID Connect Discovery 1.0 section
// 4.3: otherwise the keys may be another issuer's), or it names no https
// URL.
absl::StatusOr<std::string> ParseDiscoveryJwksUri(absl::string_view document,
                                                  absl::string_view issuer);

// One fetch (two with discovery). Unavailable for transport failures and
// HTTP errors, InvalidArgument for documents that do not parse or hold no
// usable key. Messages name the URL.
absl::StatusOr<std::shared_ptr<const Jwks>> FetchJwks(
    const JwksFetchOptions& options);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_INTERNAL_JWKS_FETCH_H_
