#ifndef VAULTCA_VAULT_TESTING_TEST_JWT_H_
#define VAULTCA_VAULT_TESTING_TEST_JWT_H_

// Test-only RS256 JWT minting, for service-account-style tokens that a
// real Vault's jwt or kubernetes auth verifies.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace vault {
namespace testing {

class TestJwtSigner {
 public:
  // Generates an RSA 2048 key.
  static absl::StatusOr<std::unique_ptr<TestJwtSigner>> Create();
  ~TestJwtSigner();

  // The public key as a "PUBLIC KEY" PEM (for jwt_validation_pubkeys).
  const std::string& public_key_pem() const { return public_pem_; }

  // Returns header.payload.signature with {"alg":"RS256","typ":"JWT"} and
  // `claims_json` as the payload.
  absl::StatusOr<std::string> Sign(absl::string_view claims_json) const;

 private:
  struct Key;
  TestJwtSigner(std::unique_ptr<Key> key, std::string public_pem);
  std::unique_ptr<Key> key_;
  std::string public_pem_;
};

// Returns claims of a Kubernetes projected service account token for
// `ns`/`sa` with audience `aud`, valid for an hour from now.
std::string ServiceAccountClaims(absl::string_view ns, absl::string_view sa,
                                 absl::string_view aud);

// Base64url without padding.
std::string Base64Url(absl::string_view bytes);

}  // namespace testing
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_TESTING_TEST_JWT_H_
