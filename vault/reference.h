#ifndef VAULTCA_VAULT_REFERENCE_H_
#define VAULTCA_VAULT_REFERENCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace vault {

// A bank-vaults style reference to one value in Vault:
// "vault:PATH#KEY[#VERSION]".
struct Reference {
  // Full API path without "/v1/", e.g. "secret/data/pki/istiod" (KV v2) or
  // "secret/pki/istiod" (KV v1). Used as written, never rewritten.
  std::string path;
  // Key inside the secret's data map, e.g. "certificate".
  std::string key;
  // KV v2 version; 0 means latest ("-1" and "0" in the text both parse to 0).
  int64_t version = 0;

  // Returns the reference in canonical text form (version omitted when 0).
  std::string ToString() const;
  bool operator==(const Reference& other) const {
    return path == other.path && key == other.key && version == other.version;
  }
};

// Returns true when `text` starts with "vault:" and so is meant as a
// reference (ParseReference then says whether it is a valid one).
bool LooksLikeReference(absl::string_view text);

// Parses "vault:PATH#KEY[#VERSION]". Returns InvalidArgument naming the
// exact problem: missing "vault:" prefix, empty or malformed path (leading
// '/', "//", "." or ".." segments, whitespace, '?'), missing or empty key,
// a version that is not an integer >= -1, or extra '#' segments.
absl::StatusOr<Reference> ParseReference(absl::string_view text);

}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_REFERENCE_H_
