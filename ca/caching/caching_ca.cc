#include "ca/caching/caching_ca.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "ca/caching/internal/refresh_schedule.h"
#include "ca/caching/internal/root_policy.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/log.h"

namespace vaultca {
namespace ca {
namespace {

constexpr absl::Duration kRepeatLogPeriod = absl::Minutes(1);

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// The earliest NotAfter of the signing certificate and the CA certificates
// above it (the roots have their own expiry metric).
absl::Time ChainNotAfter(const KeyCertBundle& bundle) {
  absl::Time earliest = bundle.not_after();
  for (const std::string& pem : bundle.chain_pems()) {
    absl::StatusOr<::vaultca::internal::SslUniquePtr<X509>> cert =
        x509::ParseCertificate(pem, "chain certificate");
    if (!cert.ok()) continue;  // Validated before; cannot happen.
    absl::StatusOr<absl::Time> t =
        x509::Asn1TimeToTime(X509_get0_notAfter(cert->get()));
    if (t.ok()) earliest = std::min(earliest, *t);
  }
  return earliest;
}

bool SameMaterial(const CaMaterialPem& a, const CaMaterialPem& b) {
  return a.cert_pem == b.cert_pem && a.chain_pem == b.chain_pem &&
         a.root_bundle_pem == b.root_bundle_pem &&
         SecretEquals(a.key_pem, b.key_pem);
}

absl::Status CheckOptions(const CachingCaOptions& o) {
  auto invalid = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("caching CA options: ", what));
  };
  if (o.refresh_interval <= absl::ZeroDuration()) {
    return invalid("refresh_interval must be positive");
  }
  if (!(o.refresh_jitter >= 0.0 && o.refresh_jitter < 1.0)) {
    return invalid("refresh_jitter must be in [0, 1)");
  }
  if (o.min_retry_backoff <= absl::ZeroDuration() ||
      o.max_retry_backoff < o.min_retry_backoff) {
    return invalid("need 0 < min_retry_backoff <= max_retry_backoff");
  }
  if (o.max_staleness <= absl::ZeroDuration()) {
    return invalid("max_staleness must be positive");
  }
  if (o.startup_deadline < absl::ZeroDuration()) {
    return invalid("startup_deadline must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CachingCertificateAuthority>>
CachingCertificateAuthority::New(std::unique_ptr<MaterialSource> source,
                                 CachingCaOptions options) {
  if (source == nullptr) {
    return absl::InvalidArgumentError("caching CA: the material source is null");
  }
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  if (!options.clock) options.clock = [] { return absl::Now(); };
  // One time source for validation, staleness and the leaves' validity.
  if (!options.policy.clock) options.policy.clock = options.clock;
  absl::StatusOr<std::shared_ptr<const IssuancePolicy>> policy =
      IssuancePolicy::New(options.policy);
  if (!policy.ok()) return policy.status();
  std::unique_ptr<CachingCertificateAuthority> ca(
      new CachingCertificateAuthority(std::move(source), std::move(options),
                                      *std::move(policy)));

  // Listen before the first load so no change after it is missed.
  absl::Status watch = ca->source_->SetChangeCallback(
      [raw = ca.get()] { raw->OnSourceChange(); });
  if (!watch.ok() && !absl::IsUnimplemented(watch)) {
    VAULTCA_LOG(WARNING) << "CA material from " << ca->description_
                         << ": change notifications unavailable, relying on "
                            "periodic refresh: "
                         << watch.message();
  }

  const CachingCaOptions& opts = ca->options_;
  const absl::Time deadline = absl::Now() + opts.startup_deadline;
  if (opts.startup_policy == StartupPolicy::kKeepTrying && opts.refresh_thread) {
    // The first load runs on the refresh thread, so one slow source call
    // (a Vault that accepts connections and never answers) cannot hold the
    // caller past the deadline; the caller only waits for its result.
    ca->thread_ = std::thread([raw = ca.get()] {
      raw->RefreshLoop(0, /*first_wait=*/absl::ZeroDuration());
    });
    while (ca->CurrentBundle() == nullptr && absl::Now() < deadline) {
      absl::SleepFor(std::min(absl::Milliseconds(5), deadline - absl::Now()));
    }
    if (ca->CurrentBundle() == nullptr) {
      VAULTCA_LOG(WARNING) << "no usable CA material from " << ca->description_
                           << " yet; not ready, retrying in the background"
                           << ca->LastErrorSuffix();
    }
    return ca;
  }
  int failures = 0;
  absl::Status status = ca->Refresh();
  while (!status.ok()) {
    ++failures;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    absl::SleepFor(std::min(ca->Backoff(failures), left));
    status = ca->Refresh();
  }
  if (!status.ok()) {
    if (opts.startup_policy == StartupPolicy::kFailAfterDeadline) {
      return absl::Status(
          status.code(),
          absl::StrCat("no usable CA material from ", ca->description_,
                       " within the start-up deadline of ",
                       absl::FormatDuration(opts.startup_deadline), " (",
                       failures, " attempts); last error: ", status.message()));
    }
    VAULTCA_LOG(WARNING) << "no usable CA material from " << ca->description_
                         << " yet; not ready, retrying in the background: "
                         << status.message();
  }
  if (opts.refresh_thread) {
    ca->thread_ = std::thread([raw = ca.get(), failures,
                               loaded = status.ok()] {
      raw->RefreshLoop(loaded ? 0 : failures,
                       loaded ? raw->JitteredInterval() : raw->Backoff(failures));
    });
  }
  return ca;
}

CachingCertificateAuthority::CachingCertificateAuthority(
    std::unique_ptr<MaterialSource> source, CachingCaOptions options,
    std::shared_ptr<const IssuancePolicy> policy)
    : options_(std::move(options)),
      policy_(std::move(policy)),
      source_(std::move(source)),
      description_(source_->Description()) {}

CachingCertificateAuthority::~CachingCertificateAuthority() {
  // First silence the source, whose thread would otherwise call into a
  // dying object; then stop our own thread.
  (void)source_->SetChangeCallback(nullptr);
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  wake_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<SignedChain> CachingCertificateAuthority::Sign(
    const SignRequest& request) {
  const std::shared_ptr<const ServingMaterial> serving =
      std::atomic_load(&serving_);
  if (serving == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "CA not ready: no usable CA material loaded yet from ", description_,
        LastErrorSuffix()));
  }
  const absl::Time now = options_.clock();
  if (now >= serving->bundle->not_after()) {
    return absl::UnavailableError(absl::StrCat(
        "CA not ready: the signing certificate (serial ",
        serving->bundle->serial_hex(), ") expired at ",
        TimeText(serving->bundle->not_after()), " and ", description_,
        " has not provided valid new material", LastErrorSuffix()));
  }
  return serving->ca->Sign(request);
}

absl::StatusOr<std::string> CachingCertificateAuthority::RootBundlePem() {
  const std::shared_ptr<const ServingMaterial> serving =
      std::atomic_load(&serving_);
  if (serving == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "CA not ready: no usable CA material loaded yet from ", description_,
        LastErrorSuffix()));
  }
  return serving->bundle->root_bundle_pem();
}

std::shared_ptr<const KeyCertBundle> CachingCertificateAuthority::CurrentBundle()
    const {
  const std::shared_ptr<const ServingMaterial> serving =
      std::atomic_load(&serving_);
  return serving == nullptr ? nullptr : serving->bundle;
}

absl::Status CachingCertificateAuthority::Refresh() {
  MutexLock lock(&refresh_mu_);
  return RefreshLocked();
}

absl::Status CachingCertificateAuthority::RefreshLocked() {
  const absl::Time now = options_.clock();
  {
    MutexLock lock(&mu_);
    ++refreshes_;
    last_refresh_attempt_ = now;
  }
  absl::StatusOr<CaMaterialPem> fetched = source_->Fetch();
  if (!fetched.ok()) {
    return RecordFailure(RefreshFailureCause::kFetch, now, fetched.status());
  }
  if (serving_pem_.has_value() && SameMaterial(*serving_pem_, *fetched)) {
    // Unchanged material needs no re-validation, except that time passes.
    const std::shared_ptr<const KeyCertBundle> current = CurrentBundle();
    if (current != nullptr && now >= current->not_after()) {
      return RecordFailure(
          RefreshFailureCause::kValidation, now,
          absl::FailedPreconditionError(absl::StrCat(
              "the source still holds the material in service, whose signing "
              "certificate (serial ", current->serial_hex(), ") expired at ",
              TimeText(current->not_after()), "; put renewed CA material in ",
              description_)));
    }
    MutexLock lock(&mu_);
    last_success_ = now;
    last_error_.clear();
    return absl::OkStatus();
  }

  RefreshFailureCause cause = RefreshFailureCause::kValidation;
  absl::StatusOr<ServingMaterial> validated =
      ValidateMaterial(*fetched, policy_, now, &cause);
  if (!validated.ok()) return RecordFailure(cause, now, validated.status());

  const std::shared_ptr<const ServingMaterial> previous =
      std::atomic_load(&serving_);
  if (previous != nullptr) {
    if (absl::Status s = internal::CheckRootTransition(
            *previous->bundle, *validated->bundle, options_.multi_root);
        !s.ok()) {
      return RecordFailure(RefreshFailureCause::kRootPolicy, now, s);
    }
  }
  const std::shared_ptr<const KeyCertBundle> next = validated->bundle;
  validated->generation = previous == nullptr ? 1 : previous->generation + 1;
  validated->chain_not_after = ChainNotAfter(*next);
  std::atomic_store(&serving_, std::shared_ptr<const ServingMaterial>(
                                   std::make_shared<const ServingMaterial>(
                                       *std::move(validated))));
  serving_pem_ = *std::move(fetched);
  {
    MutexLock lock(&mu_);
    last_success_ = now;
    last_error_.clear();
    if (previous != nullptr) {
      ++rotations_;
      last_rotation_ = now;
    }
  }
  if (previous == nullptr) {
    VAULTCA_LOG(INFO) << "CA material from " << description_ << " in service: "
                      << next->subject() << ", serial " << next->serial_hex()
                      << ", expires " << TimeText(next->not_after());
  } else {
    const bool roots_kept =
        internal::KeepsAllRoots(*previous->bundle, *next);
    VAULTCA_LOG(INFO) << "CA material from " << description_ << " rotated: "
                      << next->subject() << ", serial " << next->serial_hex()
                      << ", expires " << TimeText(next->not_after())
                      << " (was serial " << previous->bundle->serial_hex()
                      << (roots_kept ? "; roots kept)"
                                     : "; ROOTS CHANGED under multi-root)");
  }
  return absl::OkStatus();
}

absl::Status CachingCertificateAuthority::RecordFailure(
    RefreshFailureCause cause, absl::Time now, const absl::Status& status) {
  const std::shared_ptr<const KeyCertBundle> current = CurrentBundle();
  std::string error =
      absl::StrCat(RefreshFailureCauseName(cause), ": ", status.message());
  bool log_it = true;
  int64_t suppressed = 0;
  {
    MutexLock lock(&mu_);
    switch (cause) {
      case RefreshFailureCause::kFetch:
        ++failures_.fetch;
        break;
      case RefreshFailureCause::kParse:
        ++failures_.parse;
        break;
      case RefreshFailureCause::kValidation:
        ++failures_.validation;
        break;
      case RefreshFailureCause::kRootPolicy:
        ++failures_.root_policy;
        break;
    }
    // A source stuck on the same error is retried every backoff period;
    // say so once a minute, not at every retry.
    if (error == last_error_ && now - last_failure_logged_ < kRepeatLogPeriod) {
      log_it = false;
      ++suppressed_failure_logs_;
    } else {
      suppressed = suppressed_failure_logs_;
      suppressed_failure_logs_ = 0;
      last_failure_logged_ = now;
    }
    last_error_ = error;
  }
  if (log_it) {
    const std::string repeats =
        suppressed == 0
            ? ""
            : absl::StrCat(" [", suppressed, " identical failures not logged]");
    if (current == nullptr) {
      VAULTCA_LOG(WARNING) << "CA material refresh from " << description_
                           << " failed (" << RefreshFailureCauseName(cause)
                           << "): " << status.message()
                           << "; no material in service yet" << repeats;
    } else {
      VAULTCA_LOG(WARNING) << "CA material refresh from " << description_
                           << " failed (" << RefreshFailureCauseName(cause)
                           << "): " << status.message()
                           << "; still serving serial " << current->serial_hex()
                           << " (expires " << TimeText(current->not_after())
                           << ")" << repeats;
    }
  }
  return absl::Status(status.code(), absl::StrCat(description_, ": ", error));
}

void CachingCertificateAuthority::RefreshLoop(int initial_failures,
                                              absl::Duration first_wait) {
  int failures = initial_failures;
  absl::Duration wait = first_wait;
  while (WaitForNextRefresh(wait)) {
    if (Refresh().ok()) {
      failures = 0;
      wait = JitteredInterval();
    } else {
      wait = Backoff(++failures);
    }
  }
}

bool CachingCertificateAuthority::WaitForNextRefresh(absl::Duration wait) {
  MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + wait;
  while (!stop_ && !change_pending_) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    wake_.WaitWithTimeout(&mu_, left);
  }
  change_pending_ = false;
  return !stop_;
}

void CachingCertificateAuthority::OnSourceChange() {
  {
    MutexLock lock(&mu_);
    change_pending_ = true;
  }
  wake_.Signal();
}

absl::Duration CachingCertificateAuthority::JitteredInterval() {
  absl::BitGen gen;
  return internal::JitteredInterval(options_.refresh_interval,
                                    options_.refresh_jitter,
                                    absl::Uniform(gen, 0.0, 1.0));
}

absl::Duration CachingCertificateAuthority::Backoff(int consecutive_failures) {
  absl::BitGen gen;
  return internal::RetryBackoff(
      options_.min_retry_backoff, options_.max_retry_backoff,
      options_.refresh_interval, consecutive_failures,
      absl::Uniform(gen, 0.0, 1.0));
}

}  // namespace ca
}  // namespace vaultca
