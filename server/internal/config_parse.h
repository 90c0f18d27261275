#ifndef VAULTCA_SERVER_INTERNAL_CONFIG_PARSE_H_
#define VAULTCA_SERVER_INTERNAL_CONFIG_PARSE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/issuance_policy.h"
#include "server/config.h"

namespace vaultca {
namespace server {
namespace internal {

// Value parsers shared by the file and environment readers. `what` names
// the option or variable in the InvalidArgument message.

// Go's strconv.ParseBool spellings (istiod reads its env that way).
absl::StatusOr<bool> ParseBoolValue(absl::string_view what,
                                    absl::string_view text);
// A Go-style duration ("90s", "1h30m", "2160h0m0s"); not negative, not
// infinite.
absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view what,
                                                  absl::string_view text);
// "istiod" or "clamp".
absl::StatusOr<ca::TtlMode> ParseTtlMode(absl::string_view what,
                                         absl::string_view text);
// "keep-trying" or "fail".
absl::StatusOr<ca::StartupPolicy> ParseStartupPolicy(absl::string_view what,
                                                     absl::string_view text);
// "istiod" or "strict".
absl::StatusOr<IdentityPolicy> ParseIdentityPolicy(absl::string_view what,
                                                   absl::string_view text);
// Splits a comma-separated list, trimming blanks and dropping empties.
std::vector<std::string> SplitList(absl::string_view text);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_CONFIG_PARSE_H_
