#ifndef VAULTCA_SERVER_AUTH_INTERNAL_JWKS_H_
#define VAULTCA_SERVER_AUTH_INTERNAL_JWKS_H_

// A JSON Web Key Set of signature verification keys. Internal: exposes
// OpenSSL types.

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace server {
namespace internal {

// The JWS algorithms vaultca verifies.
enum class JwsAlgorithm { kRs256, kEs256 };

// Parses "RS256" / "ES256"; nullopt-like InvalidArgument for anything else
// ("none", "HS256", ...).
absl::StatusOr<JwsAlgorithm> ParseJwsAlgorithm(absl::string_view name);

struct Jwk {
  std::string kid;  // May be empty.
  JwsAlgorithm algorithm;
  ::vaultca::internal::SslUniquePtr<EVP_PKEY> key;
};

// An immutable set of verification keys, shared across threads.
class Jwks {
 public:
  // Parses {"keys": [...]}. Keys with "use" other than "sig" are ignored.
  // An RSA key (2048 to 8192 bits, n and e) verifies RS256, an EC P-256 key
  // (x, y on the curve) ES256; any other key (another type or curve,
  // malformed, an "alg" that disagrees) is left out and its reason, naming
  // the key index, kept in skipped(). InvalidArgument when the document is
  // not a key set or no usable key remains (the message lists the reasons).
  static absl::StatusOr<std::shared_ptr<const Jwks>> Parse(
      absl::string_view json);

  // Returns the keys that may have signed a token with header `kid` and
  // `algorithm`: the key with that kid, or every key of the algorithm
  // when the token names no kid.
  std::vector<const Jwk*> Candidates(absl::string_view kid,
                                     JwsAlgorithm algorithm) const;

  size_t size() const { return keys_.size(); }
  // Why each unusable key was left out, for the caller to report.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<Jwk> keys_;
  std::vector<std::string> skipped_;
};

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_INTERNAL_JWKS_H_
