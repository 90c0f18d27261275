#include "ca/issuance_policy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/internal/leaf_names.h"

namespace vaultca {
namespace ca {

VerifiedCsr::VerifiedCsr(x509::ParsedCsr parsed)
    : parsed_(std::make_shared<const x509::ParsedCsr>(std::move(parsed))) {}

absl::Status IssuancePolicy::ValidateOptions(
    const IssuancePolicyOptions& options) {
  if (options.default_ttl <= absl::ZeroDuration() ||
      options.max_ttl <= absl::ZeroDuration() ||
      options.default_ttl > options.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "issuance policy: default_ttl (",
        absl::FormatDuration(options.default_ttl), ") and max_ttl (",
        absl::FormatDuration(options.max_ttl),
        ") must be positive with default_ttl <= max_ttl"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const IssuancePolicy>> IssuancePolicy::New(
    IssuancePolicyOptions options) {
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) {
    return valid;
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return std::shared_ptr<const IssuancePolicy>(
      new IssuancePolicy(std::move(options)));
}

std::shared_ptr<const IssuancePolicy> IssuancePolicy::Default() {
  IssuancePolicyOptions options;
  options.clock = [] { return absl::Now(); };
  return std::shared_ptr<const IssuancePolicy>(
      new IssuancePolicy(std::move(options)));
}

IssuancePolicy::IssuancePolicy(IssuancePolicyOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<VerifiedCsr> IssuancePolicy::VerifyCsr(
    absl::string_view pem) const {
  absl::StatusOr<x509::ParsedCsr> parsed =
      x509::ParsedCsr::Parse(pem, options_.csr);
  if (!parsed.ok()) return parsed.status();
  return VerifiedCsr(*std::move(parsed));
}

bool IssuancePolicy::RefusesTtl(absl::Duration requested) const {
  return options_.ttl_mode == TtlMode::kIstiod && requested > options_.max_ttl;
}

absl::StatusOr<absl::Duration> IssuancePolicy::ResolveTtl(
    absl::Duration requested, absl::Time now,
    absl::Time signer_not_after) const {
  const absl::Duration remaining = signer_not_after - now;
  if (remaining <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the signing certificate expired at ",
        absl::FormatTime(absl::RFC3339_sec, signer_not_after,
                         absl::UTCTimeZone()),
        "; rotate the CA material"));
  }
  if (requested <= absl::ZeroDuration()) {
    return std::min(options_.default_ttl, remaining);
  }
  if (RefusesTtl(requested)) {
    return absl::InvalidArgumentError(
        absl::StrCat("requested TTL ", absl::FormatDuration(requested),
                     " is above the maximum ",
                     absl::FormatDuration(options_.max_ttl),
                     "; ask for a shorter validity_duration"));
  }
  return std::min(requested, options_.max_ttl);
}

absl::StatusOr<Issuance> IssuancePolicy::Check(
    const std::optional<VerifiedCsr>& csr,
    const std::vector<std::string>& identities, absl::Duration requested_ttl,
    absl::Time signer_not_after) const {
  if (!csr.has_value()) {
    return absl::InvalidArgumentError(
        "the request carries no CSR: verify one with the CA's "
        "IssuancePolicy::VerifyCsr");
  }
  if (absl::Status key = csr->parsed().CheckKey(options_.csr); !key.ok()) {
    return key;
  }
  if (absl::Status ids = internal::ValidateIdentities(identities); !ids.ok()) {
    return ids;
  }
  const absl::Time now = Now();
  absl::StatusOr<absl::Duration> ttl =
      ResolveTtl(requested_ttl, now, signer_not_after);
  if (!ttl.ok()) return ttl.status();
  return Issuance{*ttl, now};
}

}  // namespace ca
}  // namespace vaultca
