#ifndef VAULTCA_VAULT_KV_SECRET_H_
#define VAULTCA_VAULT_KV_SECRET_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_data.h"

namespace vaultca {
namespace vault {

// One version of a KV secret as read from Vault.
struct KvSecret {
  // The API path read, e.g. "secret/data/pki/istiod".
  std::string path;
  // True when the response had KV v2's shape (data.data and data.metadata).
  bool v2 = false;
  // KV v2: the version returned (metadata.version); 0 for KV v1.
  int64_t version = 0;
  // The string values of the secret, by key.
  std::map<std::string, SecretData> values;
  // Keys whose values are not strings (numbers, objects, ...).
  std::set<std::string> non_string_keys;

  // Returns the string value of `key`. NotFound "key 'k' not found under
  // path 'p'" when absent; InvalidArgument when the value is not a string.
  absl::StatusOr<SecretData> Get(absl::string_view key) const;
};

}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_KV_SECRET_H_
