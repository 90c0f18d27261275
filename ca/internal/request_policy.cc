#include "ca/internal/request_policy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/internal/leaf_names.h"

namespace vaultca {
namespace ca {
namespace internal {

absl::Status ValidateTtlOptions(const LocalCaOptions& options) {
  if (options.default_ttl <= absl::ZeroDuration() ||
      options.max_ttl <= absl::ZeroDuration() ||
      options.default_ttl > options.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LocalCaOptions: default_ttl (",
        absl::FormatDuration(options.default_ttl),
        ") and max_ttl (", absl::FormatDuration(options.max_ttl),
        ") must be positive with default_ttl <= max_ttl"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ResolveTtl(absl::Duration requested,
                                          absl::Time now,
                                          absl::Time signer_not_after,
                                          const LocalCaOptions& options) {
  const absl::Duration remaining = signer_not_after - now;
  if (remaining <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the signing certificate expired at ",
        absl::FormatTime(absl::RFC3339_sec, signer_not_after,
                         absl::UTCTimeZone()),
        "; rotate the CA material"));
  }
  if (requested <= absl::ZeroDuration()) {
    return std::min(options.default_ttl, remaining);
  }
  if (requested > options.max_ttl) {
    if (options.ttl_mode == TtlMode::kClamp) return options.max_ttl;
    return absl::InvalidArgumentError(
        absl::StrCat("requested TTL ", absl::FormatDuration(requested),
                     " is above the maximum ",
                     absl::FormatDuration(options.max_ttl),
                     "; ask for a shorter validity_duration"));
  }
  return requested;
}

absl::StatusOr<CheckedRequest> CheckRequest(const SignRequest& request,
                                            const LocalCaOptions& options,
                                            absl::Time signer_not_after) {
  absl::StatusOr<x509::ParsedCsr> csr =
      request.parsed_csr != nullptr &&
              request.parsed_csr->CheckKey(options.csr_policy).ok()
          ? absl::StatusOr<x509::ParsedCsr>(*request.parsed_csr)
          : x509::ParsedCsr::Parse(request.csr_pem, options.csr_policy);
  if (!csr.ok()) return csr.status();
  absl::Status status = ValidateIdentities(request.identities);
  if (!status.ok()) return status;
  const absl::Time now = options.clock();
  absl::StatusOr<absl::Duration> ttl =
      ResolveTtl(request.requested_ttl, now, signer_not_after, options);
  if (!ttl.ok()) return ttl.status();
  return CheckedRequest{*std::move(csr), *ttl, now};
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
