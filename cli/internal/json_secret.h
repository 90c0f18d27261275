#ifndef VAULTCA_CLI_INTERNAL_JSON_SECRET_H_
#define VAULTCA_CLI_INTERNAL_JSON_SECRET_H_

#include "absl/strings/string_view.h"
#include "common/secret_data.h"

namespace vaultca {
namespace cli {
namespace internal {

// Appends `value` to `out` as a quoted JSON string. Request bodies that
// carry a private key are built with this straight into wiping memory,
// never through a JSON library's ordinary strings.
void AppendJsonString(absl::string_view value, SecretData* out);

}  // namespace internal
}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_INTERNAL_JSON_SECRET_H_
