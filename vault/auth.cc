#include "vault/auth.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "vault/internal/json.h"

namespace vaultca {
namespace vault {
namespace {

using internal::AppendJsonString;

// Credential files are small; anything bigger is a misconfiguration.
constexpr size_t kMaxCredentialFileBytes = 1 << 20;

std::string LoginPath(const AuthConfig& auth) {
  return absl::StrCat("auth/", EffectiveAuthMount(auth), "/login");
}

class TokenAuthenticator : public Authenticator {
 public:
  explicit TokenAuthenticator(const AuthConfig& auth)
      : token_(auth.token), token_file_(auth.token_file) {}
  AuthMethod method() const override { return AuthMethod::kToken; }
  absl::StatusOr<Credentials> GetCredentials() const override {
    Credentials creds;
    if (!token_.empty()) {
      creds.token = token_;
      return creds;
    }
    absl::StatusOr<SecretData> token =
        ReadCredentialFile(token_file_, "Vault token file (VAULT_TOKEN_FILE)");
    if (!token.ok()) return token.status();
    creds.token = *std::move(token);
    return creds;
  }

 private:
  const SecretData token_;
  const std::string token_file_;
};

// Kubernetes and JWT logins share the {role, jwt} body.
class JwtAuthenticator : public Authenticator {
 public:
  explicit JwtAuthenticator(const AuthConfig& auth)
      : method_(auth.method),
        path_(LoginPath(auth)),
        role_(auth.role),
        jwt_file_(auth.jwt_file) {}
  AuthMethod method() const override { return method_; }
  absl::StatusOr<Credentials> GetCredentials() const override {
    absl::StatusOr<SecretData> jwt =
        ReadCredentialFile(jwt_file_, "service account token (VAULT_JWT_FILE)");
    if (!jwt.ok()) return jwt.status();
    Credentials creds;
    creds.login_path = path_;
    creds.login_body.Append("{\"role\":");
    AppendJsonString(role_, &creds.login_body);
    creds.login_body.Append(",\"jwt\":");
    AppendJsonString(jwt->view(), &creds.login_body);
    creds.login_body.Append("}");
    return creds;
  }

 private:
  const AuthMethod method_;
  const std::string path_;
  const std::string role_;
  const std::string jwt_file_;
};

class AppRoleAuthenticator : public Authenticator {
 public:
  explicit AppRoleAuthenticator(const AuthConfig& auth)
      : path_(LoginPath(auth)),
        role_id_(auth.approle_role_id),
        secret_id_(auth.approle_secret_id),
        secret_id_file_(auth.approle_secret_id_file) {}
  AuthMethod method() const override { return AuthMethod::kAppRole; }
  absl::StatusOr<Credentials> GetCredentials() const override {
    SecretData secret_id = secret_id_;
    if (secret_id.empty()) {
      absl::StatusOr<SecretData> read = ReadCredentialFile(
          secret_id_file_, "AppRole secret id (VAULT_APPROLE_SECRET_ID_FILE)");
      if (!read.ok()) return read.status();
      secret_id = *std::move(read);
    }
    Credentials creds;
    creds.login_path = path_;
    creds.login_body.Append("{\"role_id\":");
    AppendJsonString(role_id_, &creds.login_body);
    creds.login_body.Append(",\"secret_id\":");
    AppendJsonString(secret_id.view(), &creds.login_body);
    creds.login_body.Append("}");
    return creds;
  }

 private:
  const std::string path_;
  const std::string role_id_;
  const SecretData secret_id_;
  const std::string secret_id_file_;
};

// The proof is the TLS client certificate; the body only names the
// certificate role (empty: Vault tries every role).
class CertAuthenticator : public Authenticator {
 public:
  explicit CertAuthenticator(const AuthConfig& auth)
      : path_(LoginPath(auth)), name_(auth.role) {}
  AuthMethod method() const override { return AuthMethod::kCert; }
  absl::StatusOr<Credentials> GetCredentials() const override {
    Credentials creds;
    creds.login_path = path_;
    if (name_.empty()) {
      creds.login_body.Append("{}");
    } else {
      creds.login_body.Append("{\"name\":");
      AppendJsonString(name_, &creds.login_body);
      creds.login_body.Append("}");
    }
    return creds;
  }

 private:
  const std::string path_;
  const std::string name_;
};

}  // namespace

absl::StatusOr<SecretData> ReadCredentialFile(const std::string& path,
                                              absl::string_view what) {
  if (path.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": no file configured"));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " '", path, "' cannot be opened: ", std::strerror(errno)));
  }
  SecretData content;
  char buf[4096];
  absl::Status status;
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = absl::FailedPreconditionError(absl::StrCat(
          what, " '", path, "' cannot be read: ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    content.Append(absl::string_view(buf, static_cast<size_t>(n)));
    if (content.size() > kMaxCredentialFileBytes) {
      status = absl::FailedPreconditionError(absl::StrCat(
          what, " '", path, "' is larger than ", kMaxCredentialFileBytes,
          " bytes; is it the right file?"));
      break;
    }
  }
  ::vaultca::internal::SecureWipe(buf, sizeof(buf));
  close(fd);
  if (!status.ok()) return status;
  absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(content.view());
  if (trimmed.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " '", path, "' is empty"));
  }
  if (trimmed.size() == content.size()) return content;
  return SecretData(trimmed);
}

absl::StatusOr<std::unique_ptr<Authenticator>> NewAuthenticator(
    const AuthConfig& auth) {
  switch (auth.method) {
    case AuthMethod::kToken:
      if (auth.token.empty() && auth.token_file.empty()) {
        return absl::InvalidArgumentError(
            "Vault token auth has no token: set VAULT_TOKEN or "
            "VAULT_TOKEN_FILE, or write ~/.vault-token");
      }
      return std::unique_ptr<Authenticator>(new TokenAuthenticator(auth));
    case AuthMethod::kKubernetes:
    case AuthMethod::kJwt:
      if (auth.role.empty() || auth.jwt_file.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Vault ", AuthMethodName(auth.method),
            " auth needs VAULT_ROLE and a JWT file (VAULT_JWT_FILE)"));
      }
      return std::unique_ptr<Authenticator>(new JwtAuthenticator(auth));
    case AuthMethod::kAppRole:
      if (auth.approle_role_id.empty() ||
          (auth.approle_secret_id.empty() &&
           auth.approle_secret_id_file.empty())) {
        return absl::InvalidArgumentError(
            "Vault approle auth needs VAULT_APPROLE_ROLE_ID and a secret id "
            "(VAULT_APPROLE_SECRET_ID_FILE)");
      }
      return std::unique_ptr<Authenticator>(new AppRoleAuthenticator(auth));
    case AuthMethod::kCert:
      return std::unique_ptr<Authenticator>(new CertAuthenticator(auth));
  }
  return absl::InvalidArgumentError("unknown Vault auth method");
}

}  // namespace vault
}  // namespace vaultca
