#include "vault/config.h"

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "vault/internal/url.h"

namespace vaultca {
namespace vault {
namespace {

absl::Status EnvError(absl::string_view var, absl::string_view value,
                      absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(
      var, "='", value, "' is invalid: expected ", expected));
}

// Go's strconv.ParseBool, which the Vault CLI uses for VAULT_SKIP_VERIFY.
absl::StatusOr<bool> ParseGoBool(absl::string_view var,
                                 absl::string_view value) {
  if (value == "1" || value == "t" || value == "T" || value == "true" ||
      value == "TRUE" || value == "True") {
    return true;
  }
  if (value == "0" || value == "f" || value == "F" || value == "false" ||
      value == "FALSE" || value == "False") {
    return false;
  }
  return EnvError(var, value, "a boolean (true/false/1/0)");
}

// Accepts plain seconds ("30", as the Vault CLI does) or a Go-style
// duration ("1m30s", "500ms").
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view var,
                                            absl::string_view value) {
  int64_t seconds;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds <= 0) return EnvError(var, value, "a positive duration");
    return absl::Seconds(seconds);
  }
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return EnvError(var, value, "seconds or a duration like 30s or 1m");
  }
  return d;
}

}  // namespace

absl::string_view AuthMethodName(AuthMethod method) {
  switch (method) {
    case AuthMethod::kToken:
      return "token";
    case AuthMethod::kKubernetes:
      return "kubernetes";
    case AuthMethod::kJwt:
      return "jwt";
    case AuthMethod::kAppRole:
      return "approle";
    case AuthMethod::kCert:
      return "cert";
  }
  return "unknown";
}

absl::StatusOr<AuthMethod> ParseAuthMethod(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (AuthMethod m : {AuthMethod::kToken, AuthMethod::kKubernetes,
                       AuthMethod::kJwt, AuthMethod::kAppRole,
                       AuthMethod::kCert}) {
    if (lower == AuthMethodName(m)) return m;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown Vault auth method '", name,
                   "': use token, kubernetes, jwt, approle or cert"));
}

std::string EffectiveAuthMount(const AuthConfig& auth) {
  std::string mount(absl::StripSuffix(
      absl::StripPrefix(absl::StripPrefix(auth.mount, "/"), "auth/"), "/"));
  if (!mount.empty()) return mount;
  return std::string(AuthMethodName(auth.method));
}

EnvLookup ProcessEnvironment() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<VaultConfig> ConfigFromEnvironment(const EnvLookup& env,
                                                  const VaultConfig& base) {
  VaultConfig config = base;
  // Empty variables count as unset, as in the Vault CLI.
  auto get = [&env](absl::string_view name) -> std::optional<std::string> {
    std::optional<std::string> value = env(name);
    if (value.has_value() && value->empty()) return std::nullopt;
    return value;
  };

  if (auto v = get("VAULT_ADDR")) config.address = *v;
  if (auto v = get("VAULT_NAMESPACE")) config.vault_namespace = *v;
  if (auto v = get("VAULT_CACERT")) config.tls.ca_cert_file = *v;
  if (auto v = get("VAULT_CAPATH")) config.tls.ca_path = *v;
  if (auto v = get("VAULT_CLIENT_CERT")) config.tls.client_cert_file = *v;
  if (auto v = get("VAULT_CLIENT_KEY")) config.tls.client_key_file = *v;
  if (auto v = get("VAULT_TLS_SERVER_NAME")) config.tls.server_name = *v;
  if (auto v = get("VAULT_SKIP_VERIFY")) {
    absl::StatusOr<bool> skip = ParseGoBool("VAULT_SKIP_VERIFY", *v);
    if (!skip.ok()) return skip.status();
    config.tls.skip_verify = *skip;
  }
  if (auto v = get("VAULT_CLIENT_TIMEOUT")) {
    absl::StatusOr<absl::Duration> t = ParseTimeout("VAULT_CLIENT_TIMEOUT", *v);
    if (!t.ok()) return t.status();
    config.timeout = *t;
  }
  if (auto v = get("VAULT_MAX_RETRIES")) {
    int retries;
    if (!absl::SimpleAtoi(*v, &retries) || retries < 0 || retries > 100) {
      return EnvError("VAULT_MAX_RETRIES", *v, "an integer from 0 to 100");
    }
    config.max_retries = retries;
  }

  AuthConfig& auth = config.auth;
  const std::optional<std::string> token = get("VAULT_TOKEN");
  const std::optional<std::string> token_file = get("VAULT_TOKEN_FILE");
  const std::optional<std::string> role = get("VAULT_ROLE");
  if (auto v = get("VAULT_AUTH_METHOD")) {
    absl::StatusOr<AuthMethod> method = ParseAuthMethod(*v);
    if (!method.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("VAULT_AUTH_METHOD: ", method.status().message()));
    }
    auth.method = *method;
  } else if (token.has_value() || token_file.has_value()) {
    auth.method = AuthMethod::kToken;
  } else if (role.has_value()) {
    auth.method = AuthMethod::kKubernetes;
  }
  if (token.has_value()) auth.token = SecretData(*token);
  if (token_file.has_value()) auth.token_file = *token_file;
  if (auth.method == AuthMethod::kToken && auth.token.empty() &&
      auth.token_file.empty()) {
    if (auto home = get("HOME")) {
      auth.token_file = absl::StrCat(*home, "/.vault-token");
    }
  }
  if (role.has_value()) auth.role = *role;
  if (auto v = get("VAULT_PATH")) auth.mount = *v;
  if (auto v = get("VAULT_JWT_FILE")) {
    auth.jwt_file = *v;
  } else if (auto k = get("KUBERNETES_SERVICE_ACCOUNT_TOKEN")) {
    auth.jwt_file = *k;
  }
  if (auto v = get("VAULT_APPROLE_ROLE_ID")) auth.approle_role_id = *v;
  if (auto v = get("VAULT_APPROLE_SECRET_ID")) {
    auth.approle_secret_id = SecretData(*v);
  }
  if (auto v = get("VAULT_APPROLE_SECRET_ID_FILE")) {
    auth.approle_secret_id_file = *v;
  }

  absl::Status valid = ValidateConfig(config);
  if (!valid.ok()) return valid;
  return config;
}

absl::Status ValidateConfig(const VaultConfig& config) {
  absl::StatusOr<internal::Url> url = internal::ParseUrl(config.address);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Vault address (VAULT_ADDR): ", url.status().message()));
  }
  if (!url->is_https() && !config.allow_plaintext_http) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Vault address (VAULT_ADDR) '", config.address,
        "' is plain http: the token would cross the network unencrypted; use "
        "https://, or allow plain http explicitly in code "
        "(allow_plaintext_http) for a local proxy"));
  }
  if (!url->path.empty() && url->path != "/") {
    return absl::InvalidArgumentError(absl::StrCat(
        "Vault address (VAULT_ADDR) '", config.address,
        "' has a path: give only scheme://host:port"));
  }
  if (config.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "Vault timeout (VAULT_CLIENT_TIMEOUT) must be positive");
  }
  if (config.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("Vault request_timeout must be positive");
  }
  if (config.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("Vault connect_timeout must be positive");
  }
  if (config.max_retries < 0) {
    return absl::InvalidArgumentError(
        "Vault max_retries (VAULT_MAX_RETRIES) must not be negative");
  }
  if (config.retry_base_backoff <= absl::ZeroDuration() ||
      config.retry_max_backoff < config.retry_base_backoff) {
    return absl::InvalidArgumentError(
        "Vault retry backoff: need 0 < retry_base_backoff <= "
        "retry_max_backoff");
  }
  if (config.tls.client_cert_file.empty() !=
      config.tls.client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "Vault TLS client certificate: set both VAULT_CLIENT_CERT and "
        "VAULT_CLIENT_KEY, or neither");
  }
  const AuthConfig& auth = config.auth;
  switch (auth.method) {
    case AuthMethod::kToken:
      if (auth.token.empty() && auth.token_file.empty()) {
        return absl::InvalidArgumentError(
            "Vault token auth has no token: set VAULT_TOKEN or "
            "VAULT_TOKEN_FILE, or write ~/.vault-token");
      }
      break;
    case AuthMethod::kKubernetes:
    case AuthMethod::kJwt:
      if (auth.role.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Vault ", AuthMethodName(auth.method),
            " auth needs a role: set VAULT_ROLE"));
      }
      if (auth.jwt_file.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Vault ", AuthMethodName(auth.method),
            " auth needs a token file: set VAULT_JWT_FILE"));
      }
      break;
    case AuthMethod::kAppRole:
      if (auth.approle_role_id.empty()) {
        return absl::InvalidArgumentError(
            "Vault approle auth needs a role id: set VAULT_APPROLE_ROLE_ID");
      }
      if (auth.approle_secret_id.empty() &&
          auth.approle_secret_id_file.empty()) {
        return absl::InvalidArgumentError(
            "Vault approle auth needs a secret id: set "
            "VAULT_APPROLE_SECRET_ID_FILE");
      }
      break;
    case AuthMethod::kCert:
      if (config.tls.client_cert_file.empty()) {
        return absl::InvalidArgumentError(
            "Vault cert auth needs a client certificate: set "
            "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY");
      }
      break;
  }
  return absl::OkStatus();
}

}  // namespace vault
}  // namespace vaultca
