#ifndef VAULTCA_VAULT_AUTH_H_
#define VAULTCA_VAULT_AUTH_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/secret_data.h"
#include "vault/config.h"

namespace vaultca {
namespace vault {

// What the client presents to Vault to obtain a token: either a ready token
// (token auth) or a login request to POST.
struct Credentials {
  // Token auth: the token itself. Its TTL is learned through lookup-self.
  SecretData token;
  // Login methods: API path such as "auth/kubernetes/login", and its JSON
  // body (which holds the JWT or secret id).
  std::string login_path;
  SecretData login_body;

  bool is_token() const { return login_path.empty(); }
};

// Produces credentials for one auth method. Implementations are stateless
// apart from their configuration and are safe to call from any thread.
class Authenticator {
 public:
  virtual ~Authenticator() = default;

  virtual AuthMethod method() const = 0;

  // Returns fresh credentials. Files (token file, JWT, secret id) are read
  // at every call, so a rotated projected token or secret id is picked up
  // at the next login. Fails with FailedPrecondition naming the file (never
  // its content) when it is missing, unreadable or empty.
  virtual absl::StatusOr<Credentials> GetCredentials() const = 0;
};

// Returns the authenticator for `auth` (see AuthConfig). Fails with
// InvalidArgument when the method's required fields are missing.
absl::StatusOr<std::unique_ptr<Authenticator>> NewAuthenticator(
    const AuthConfig& auth);

// Reads a whole credential file into wiping memory, dropping trailing
// whitespace (files written by `echo` end in a newline). `what` names the
// file's role in errors, e.g. "VAULT_JWT_FILE".
absl::StatusOr<SecretData> ReadCredentialFile(const std::string& path,
                                              absl::string_view what);

}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_AUTH_H_
