#include "vault/internal/kv_parse.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "vault/internal/json.h"
#include "vault/internal/vault_errors.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

absl::Status PathNotFound(absl::string_view path) {
  return absl::NotFoundError(absl::StrCat(
      "path not found: '", path,
      "' (check the mount, the KV version — v2 paths contain /data/ — and "
      "that the token's policy allows reading it)"));
}

std::string VersionText(const SecureJson& metadata, int64_t requested) {
  std::optional<int64_t> v = IntMember(metadata, "version");
  if (v.has_value()) return absl::StrCat(*v);
  if (requested > 0) return absl::StrCat(requested);
  return "latest";
}

// Returns the deleted/destroyed error when `metadata` says so.
std::optional<absl::Status> DeletedOrDestroyed(absl::string_view path,
                                               const SecureJson& metadata,
                                               int64_t requested) {
  if (BoolMember(metadata, "destroyed").value_or(false)) {
    return absl::NotFoundError(absl::StrCat(
        "version ", VersionText(metadata, requested), " of ", path,
        " was destroyed: its data is gone for good; read another version"));
  }
  std::optional<std::string> deleted = StringMember(metadata, "deletion_time");
  if (deleted.has_value() && !deleted->empty()) {
    return absl::NotFoundError(absl::StrCat(
        "version ", VersionText(metadata, requested), " of ", path,
        " was deleted at ", *deleted,
        ": undelete it (vault kv undelete) or read another version"));
  }
  return std::nullopt;
}

void FillValues(const SecureJson& map, KvSecret* out) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key(it.key().data(), it.key().size());
    if (it.value().is_string()) {
      const SecureString& s = it.value().get_ref<const SecureString&>();
      out->values.emplace(std::move(key),
                          SecretData(absl::string_view(s.data(), s.size())));
    } else {
      out->non_string_keys.insert(std::move(key));
    }
  }
}

}  // namespace

absl::StatusOr<KvSecret> ParseKvResponse(absl::string_view path,
                                         int64_t requested_version,
                                         int http_status,
                                         absl::string_view body) {
  if (http_status != 200 && http_status != 404) {
    return HttpErrorToStatus(http_status, absl::StrCat("read ", path), body);
  }
  std::optional<SecureJson> json = ParseJson(body);
  if (!json.has_value() || !json->is_object()) {
    if (http_status == 404) return PathNotFound(path);
    return absl::InternalError(absl::StrCat(
        "Vault read ", path, ": HTTP 200 with a body that is not a JSON "
        "object (is VAULT_ADDR pointing at Vault?)"));
  }
  const SecureJson* data = Member(*json, "data");
  if (data == nullptr || data->is_null()) return PathNotFound(path);
  if (!data->is_object()) {
    return absl::InternalError(absl::StrCat(
        "Vault read ", path, ": 'data' in the response is not an object"));
  }
  const SecureJson* inner = Member(*data, "data");
  const SecureJson* metadata = Member(*data, "metadata");
  const bool v2 = inner != nullptr && metadata != nullptr &&
                  metadata->is_object() &&
                  (inner->is_object() || inner->is_null());
  if (v2) {
    if (std::optional<absl::Status> gone =
            DeletedOrDestroyed(path, *metadata, requested_version)) {
      return *gone;
    }
    if (http_status == 404 || inner->is_null()) return PathNotFound(path);
    KvSecret secret;
    secret.path = std::string(path);
    secret.v2 = true;
    secret.version = IntMember(*metadata, "version").value_or(0);
    FillValues(*inner, &secret);
    return secret;
  }
  if (http_status == 404) return PathNotFound(path);
  KvSecret secret;
  secret.path = std::string(path);
  FillValues(*data, &secret);
  return secret;
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
