// CachingCertificateAuthority's readiness and statistics: what the server
// exports, split from the refresh machinery in caching_ca.cc.

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ca/caching/caching_ca.h"

namespace vaultca {
namespace ca {
namespace {

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

std::string CachingCertificateAuthority::LastErrorSuffix() const {
  MutexLock lock(&mu_);
  if (last_error_.empty()) return "";
  return absl::StrCat("; last refresh error: ", last_error_);
}

absl::Status CachingCertificateAuthority::Readiness() const {
  return ReadinessAt(options_.clock());
}

absl::Status CachingCertificateAuthority::ReadinessAt(absl::Time now) const {
  const std::shared_ptr<const KeyCertBundle> bundle = CurrentBundle();
  if (bundle == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "no usable CA material loaded yet from ", description_,
        LastErrorSuffix()));
  }
  if (now >= bundle->not_after()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the CA signing certificate (serial ", bundle->serial_hex(),
        ") expired at ", TimeText(bundle->not_after()), LastErrorSuffix()));
  }
  if (options_.stale_means_not_ready) return StalenessAt(now);
  return absl::OkStatus();
}

absl::Status CachingCertificateAuthority::StalenessAt(absl::Time now) const {
  absl::Time last_success;
  {
    MutexLock lock(&mu_);
    last_success = last_success_;
  }
  if (now - last_success > options_.max_staleness) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CA material from ", description_, " is stale: last successful refresh ",
        TimeText(last_success), ", ",
        absl::FormatDuration(absl::Trunc(now - last_success, absl::Seconds(1))),
        " ago (max_staleness ", absl::FormatDuration(options_.max_staleness),
        ")", LastErrorSuffix()));
  }
  return absl::OkStatus();
}

CachingCaStats CachingCertificateAuthority::Stats() const {
  CachingCaStats stats;
  const absl::Time now = options_.clock();
  if (const std::shared_ptr<const ServingMaterial> serving =
          std::atomic_load(&serving_)) {
    const std::shared_ptr<const KeyCertBundle>& bundle = serving->bundle;
    stats.has_material = true;
    stats.generation = serving->generation;
    stats.chain_not_after = serving->chain_not_after;
    stats.serial_hex = bundle->serial_hex();
    stats.subject = bundle->subject();
    stats.not_before = bundle->not_before();
    stats.not_after = bundle->not_after();
    stats.root_fingerprints = bundle->root_fingerprints();
  }
  const absl::Status readiness = ReadinessAt(now);
  stats.ready = readiness.ok();
  stats.not_ready_reason = std::string(readiness.message());
  stats.stale = stats.has_material && !StalenessAt(now).ok();
  MutexLock lock(&mu_);
  stats.last_refresh_attempt = last_refresh_attempt_;
  stats.last_successful_refresh = last_success_;
  stats.last_rotation = last_rotation_;
  stats.last_error = last_error_;
  stats.refreshes = refreshes_;
  stats.rotations = rotations_;
  stats.failures = failures_;
  return stats;
}

}  // namespace ca
}  // namespace vaultca
