#ifndef VAULTCA_VAULT_INTERNAL_KV_PARSE_H_
#define VAULTCA_VAULT_INTERNAL_KV_PARSE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vault/kv_secret.h"

namespace vaultca {
namespace vault {
namespace internal {

// Interprets Vault's answer to GET /v1/<path>[?version=N] as a KV read,
// the way bank-vaults vault-env does: v2 when data.data and data.metadata
// are present, else the top-level data map is a v1 secret.
//  - 200 with data: the secret.
//  - a deleted or destroyed v2 version (404 or 200 with the envelope and
//    data.data null): NotFound "version N of PATH was deleted at T" or
//    "... was destroyed".
//  - 404 otherwise, or no data: NotFound "path not found: PATH".
//  - other statuses: HttpErrorToStatus.
//  - a 200 body that is not the expected JSON: Internal.
absl::StatusOr<KvSecret> ParseKvResponse(absl::string_view path,
                                         int64_t requested_version,
                                         int http_status,
                                         absl::string_view body);

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_KV_PARSE_H_
