#include "vault/internal/vault_errors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "vault/internal/json.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

// Keeps a misbehaving server from flooding logs through error messages.
constexpr size_t kMaxErrorText = 1024;

absl::string_view Hint(int http_status) {
  switch (http_status) {
    case 400:
      // Also how a PKI role refuses a CSR, so not "malformed".
      return "Vault refused the request as invalid (see its errors)";
    case 401:
    case 403:
      return "the token is invalid, expired, or its policies do not allow "
             "this path";
    case 404:
      return "the path does not exist or the token may not see it";
    case 412:
      return "Vault's replicas have not caught up yet";
    case 429:
      return "Vault is rate limiting this client";
    case 501:
      return "Vault is not initialised: run vault operator init";
    case 502:
    case 504:
      return "a proxy in front of Vault could not reach it";
    case 503:
      return "Vault is sealed or has no active node: unseal it or wait for "
             "a leader";
    default:
      return "";
  }
}

}  // namespace

std::vector<std::string> VaultErrorMessages(absl::string_view body) {
  std::vector<std::string> out;
  std::optional<SecureJson> json = ParseJson(body);
  if (!json.has_value()) return out;
  const SecureJson* errors = Member(*json, "errors");
  if (errors == nullptr || !errors->is_array()) return out;
  for (const SecureJson& e : *errors) {
    if (!e.is_string()) continue;
    const SecureString& s = e.get_ref<const SecureString&>();
    out.emplace_back(s.data(), s.size());
  }
  return out;
}

absl::StatusCode HttpStatusToCode(int http_status) {
  switch (http_status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 500:
      return absl::StatusCode::kInternal;
    case 501:
      return absl::StatusCode::kFailedPrecondition;
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      if (http_status >= 400 && http_status < 500) {
        return absl::StatusCode::kInvalidArgument;
      }
      if (http_status >= 500 && http_status < 600) {
        return absl::StatusCode::kUnavailable;
      }
      return absl::StatusCode::kUnknown;
  }
}

absl::Status HttpErrorToStatus(int http_status, absl::string_view operation,
                               absl::string_view body) {
  std::string message =
      absl::StrCat("Vault ", operation, ": HTTP ", http_status);
  const std::vector<std::string> errors = VaultErrorMessages(body);
  if (!errors.empty()) {
    std::string joined = absl::StrJoin(errors, "; ");
    if (joined.size() > kMaxErrorText) {
      joined.resize(kMaxErrorText);
      joined += "...";
    }
    absl::StrAppend(&message, ": ", joined);
  }
  const absl::string_view hint = Hint(http_status);
  if (!hint.empty()) absl::StrAppend(&message, " (", hint, ")");
  return absl::Status(HttpStatusToCode(http_status), message);
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
