#include "vault/kv_secret.h"

#include "absl/strings/str_cat.h"

namespace vaultca {
namespace vault {

absl::StatusOr<SecretData> KvSecret::Get(absl::string_view key) const {
  auto it = values.find(std::string(key));
  if (it != values.end()) return it->second;
  if (non_string_keys.count(std::string(key)) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value of key '", key, "' under path '", path,
        "' is not a string: store it as a string (vault kv put ", path,
        " ", key, "=@file)"));
  }
  return absl::NotFoundError(
      absl::StrCat("key '", key, "' not found under path '", path, "'"));
}

}  // namespace vault
}  // namespace vaultca
