#ifndef VAULTCA_VAULT_CONFIG_H_
#define VAULTCA_VAULT_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/secret_data.h"

namespace vaultca {
namespace vault {

// How the client proves its identity to Vault.
enum class AuthMethod {
  kToken,       // A ready token: VAULT_TOKEN, VAULT_TOKEN_FILE or ~/.vault-token.
  kKubernetes,  // POST auth/<mount>/login {role, jwt} with the SA token.
  kJwt,         // Same wire format as kubernetes, default mount "jwt".
  kAppRole,     // POST auth/<mount>/login {role_id, secret_id}.
  kCert,        // POST auth/<mount>/login {name} over a TLS client cert.
};

// Returns "token", "kubernetes", "jwt", "approle" or "cert".
absl::string_view AuthMethodName(AuthMethod method);
// Parses the names AuthMethodName returns (case-insensitive).
absl::StatusOr<AuthMethod> ParseAuthMethod(absl::string_view name);

// TLS settings for the connection to Vault. Verification is on unless
// skip_verify is set explicitly.
struct TlsConfig {
  // PEM bundle of CAs to trust (VAULT_CACERT). Empty: the system store.
  std::string ca_cert_file;
  // Directory of hashed CA certificates (VAULT_CAPATH).
  std::string ca_path;
  // Client certificate and key files (VAULT_CLIENT_CERT / VAULT_CLIENT_KEY),
  // sent in the handshake; required by cert auth.
  std::string client_cert_file;
  std::string client_key_file;
  // Name to send in SNI and to verify the server certificate against,
  // instead of the host in the address (VAULT_TLS_SERVER_NAME).
  std::string server_name;
  // Disables server certificate verification (VAULT_SKIP_VERIFY). Every
  // client start then prints a warning.
  bool skip_verify = false;
};

// Credentials and the auth mount. Only the fields of `method` are used.
struct AuthConfig {
  AuthMethod method = AuthMethod::kToken;
  // Auth mount path without "auth/" (VAULT_PATH); empty: the method's
  // default ("kubernetes", "jwt", "approle", "cert").
  std::string mount;
  // Role for kubernetes/jwt logins, certificate role name for cert auth
  // (VAULT_ROLE).
  std::string role;
  // kToken: the token itself (VAULT_TOKEN), else read from token_file
  // (VAULT_TOKEN_FILE, else ~/.vault-token) at every (re)login.
  SecretData token;
  std::string token_file;
  // kKubernetes / kJwt: file holding the JWT, re-read at every login
  // (VAULT_JWT_FILE, KUBERNETES_SERVICE_ACCOUNT_TOKEN).
  std::string jwt_file =
      "/var/run/secrets/kubernetes.io/serviceaccount/token";
  // kAppRole: role id (VAULT_APPROLE_ROLE_ID) and secret id, given directly
  // (VAULT_APPROLE_SECRET_ID) or in a file re-read at every login
  // (VAULT_APPROLE_SECRET_ID_FILE).
  std::string approle_role_id;
  SecretData approle_secret_id;
  std::string approle_secret_id_file;
};

// Everything the Vault client needs. Fill it from code, or start from
// ConfigFromEnvironment.
struct VaultConfig {
  // Base address, "https://host:port" (VAULT_ADDR).
  std::string address = "https://127.0.0.1:8200";
  // Sent as X-Vault-Namespace when not empty (VAULT_NAMESPACE).
  std::string vault_namespace;
  TlsConfig tls;
  AuthConfig auth;
  // Permits an http:// address. Never set from the environment: plain text
  // exposes the token, so only code can allow it (tests, sidecar proxies).
  bool allow_plaintext_http = false;
  // Overall deadline of one operation, retries and re-login included
  // (VAULT_CLIENT_TIMEOUT; the Go client's default is 60 s).
  absl::Duration timeout = absl::Seconds(60);
  // Deadline of one attempt; a hung attempt is abandoned and retried while
  // the operation's timeout allows.
  absl::Duration request_timeout = absl::Seconds(30);
  // Deadline of the TCP + TLS handshake of one attempt.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Retries after the first attempt (VAULT_MAX_RETRIES). Retried: connection
  // errors, 412, 429 and 5xx except 501.
  int max_retries = 2;
  // Exponential backoff with full jitter: attempt n waits a uniformly random
  // time in [0, min(retry_max_backoff, retry_base_backoff * 2^n)], and at
  // least what a Retry-After header asks for.
  absl::Duration retry_base_backoff = absl::Milliseconds(500);
  absl::Duration retry_max_backoff = absl::Seconds(10);
};

// Looks up one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view)>;

// Returns the real process environment as an EnvLookup.
EnvLookup ProcessEnvironment();

// Returns `base` overlaid with the standard Vault environment (see each
// field's comment for its variable). The method comes from VAULT_AUTH_METHOD,
// else token when VAULT_TOKEN or VAULT_TOKEN_FILE is set, else kubernetes
// when VAULT_ROLE is set, else token from ~/.vault-token. Fails with
// InvalidArgument naming the variable when a value does not parse, and when
// the result does not pass ValidateConfig.
absl::StatusOr<VaultConfig> ConfigFromEnvironment(
    const EnvLookup& env = ProcessEnvironment(),
    const VaultConfig& base = VaultConfig());

// Checks `config` for contradictions before any connection is made: the
// address is https:// (or http:// with allow_plaintext_http), timeouts are
// positive, the chosen auth method has its inputs. Returns InvalidArgument
// naming the field and the fix.
absl::Status ValidateConfig(const VaultConfig& config);

// Returns the auth mount for `auth`: its mount or the method's default.
std::string EffectiveAuthMount(const AuthConfig& auth);

}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_CONFIG_H_
