#include "ca/vault_pki/managed_vault_pki_ca.h"

#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "ca/vault_pki/internal/issued_chain.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/log.h"

namespace vaultca {
namespace ca {

// One issuer chain as Vault reported it, and the signer built over it.
struct ManagedVaultPkiCa::Issuer {
  // certificate and ca_chain as read, to notice a change.
  std::string reported_pem;
  std::string roots_pem;
  std::shared_ptr<VaultPkiCertificateAuthority> signer;
  uint64_t generation = 0;
  std::string serial_hex;
  std::string subject;
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
  absl::Time chain_not_after = absl::InfinitePast();
  std::vector<std::string> root_fingerprints;
};

namespace {

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Time NotAfter(const X509* cert) {
  absl::StatusOr<absl::Time> t =
      x509::Asn1TimeToTime(X509_get0_notAfter(cert));
  return t.ok() ? *t : absl::InfinitePast();
}

bool SameCertificate(const X509* a, const X509* b) {
  return X509_cmp(a, b) == 0;
}

// A failed read: which counter it goes to, and the status.
struct Failure {
  enum class Cause { kFetch, kParse, kValidation } cause;
  absl::Status status;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ManagedVaultPkiCa>> ManagedVaultPkiCa::New(
    std::shared_ptr<vault::VaultClient> client,
    ManagedVaultPkiCaOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        "ManagedVaultPkiCa needs a Vault client: it is null");
  }
  if (absl::Status s =
          VaultPkiCertificateAuthority::ValidateOptions(options.pki);
      !s.ok()) {
    return s;
  }
  if (!options.pki.root_bundle_pem.empty()) {
    absl::StatusOr<::vaultca::internal::SslUniquePtr<STACK_OF(X509)>> roots =
        x509::ParseCertificateStack(options.pki.root_bundle_pem,
                                        "the pinned root bundle");
    if (!roots.ok()) return roots.status();
  }
  if (options.refresh_interval <= absl::ZeroDuration() ||
      options.min_retry_backoff <= absl::ZeroDuration() ||
      options.max_retry_backoff < options.min_retry_backoff ||
      options.max_staleness <= absl::ZeroDuration() ||
      options.startup_deadline < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ManagedVaultPkiCa: refresh_interval, backoffs and max_staleness "
        "must be positive (max_retry_backoff >= min_retry_backoff)");
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  if (!options.pki.policy.clock) options.pki.policy.clock = options.clock;
  absl::StatusOr<std::shared_ptr<const IssuancePolicy>> policy =
      IssuancePolicy::New(options.pki.policy);
  if (!policy.ok()) return policy.status();
  const std::string& issuer =
      options.pki.issuer.empty() ? std::string("default") : options.pki.issuer;
  std::string issuer_path =
      absl::StrCat(options.pki.mount, "/issuer/", issuer, "/json");
  auto ca = std::unique_ptr<ManagedVaultPkiCa>(new ManagedVaultPkiCa(
      std::move(client), std::move(options), *std::move(policy),
      std::move(issuer_path)));
  const ManagedVaultPkiCaOptions& o = ca->options_;
  const absl::Time deadline = absl::Now() + o.startup_deadline;
  int failures = 0;
  if (o.startup_policy == StartupPolicy::kFailAfterDeadline) {
    while (true) {
      absl::Status s = ca->Refresh();
      if (s.ok()) break;
      ++failures;
      if (absl::Now() + ca->Backoff(failures) >= deadline) {
        return absl::Status(
            s.code(), absl::StrCat("cannot read the issuer chain of ",
                                   ca->description_, " within ",
                                   absl::FormatDuration(o.startup_deadline),
                                   ": ", s.message()));
      }
      absl::SleepFor(ca->Backoff(failures));
    }
    if (o.refresh_thread) {
      ca->thread_ = std::thread([raw = ca.get()] { raw->RefreshLoop(0); });
    }
    return ca;
  }
  // keep-trying: the first read happens on the refresh thread.
  if (o.refresh_thread) {
    ca->thread_ = std::thread([raw = ca.get()] { raw->RefreshLoop(-1); });
    while (std::atomic_load(&ca->current_) == nullptr &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  } else {
    (void)ca->Refresh();
  }
  return ca;
}

ManagedVaultPkiCa::ManagedVaultPkiCa(std::shared_ptr<vault::VaultClient> client,
                                     ManagedVaultPkiCaOptions options,
                                     std::shared_ptr<const IssuancePolicy> policy,
                                     std::string issuer_path)
    : client_(std::move(client)),
      options_(std::move(options)),
      policy_(std::move(policy)),
      issuer_path_(std::move(issuer_path)),
      description_(absl::StrCat("Vault PKI ", options_.pki.mount, " (role ",
                                options_.pki.role.empty() ? "-"
                                                          : options_.pki.role,
                                ", issuer ",
                                options_.pki.issuer.empty()
                                    ? "default"
                                    : options_.pki.issuer,
                                ")")) {}

ManagedVaultPkiCa::~ManagedVaultPkiCa() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<SignedChain> ManagedVaultPkiCa::Sign(const SignRequest& request) {
  const std::shared_ptr<const Issuer> issuer = std::atomic_load(&current_);
  if (issuer == nullptr) {
    MutexLock lock(&mu_);
    return absl::UnavailableError(absl::StrCat(
        "the issuer chain of ", description_,
        " has not been read yet: ", last_refresh_.message()));
  }
  return issuer->signer->Sign(request);
}

absl::StatusOr<std::string> ManagedVaultPkiCa::RootBundlePem() {
  const std::shared_ptr<const Issuer> issuer = std::atomic_load(&current_);
  if (issuer == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "the issuer chain of ", description_, " has not been read yet"));
  }
  return issuer->roots_pem;
}

absl::StatusOr<std::shared_ptr<const ManagedVaultPkiCa::Issuer>>
ManagedVaultPkiCa::ReadIssuer() {
  // Vault serves issuer certificates without a token: check the token too
  // (Vault's default policy allows lookup-self; the client logs in first
  // when it has no token), so that "ready" means signing can be
  // authorised.
  if (absl::StatusOr<SecretData> self = client_->Read("auth/token/lookup-self");
      !self.ok()) {
    return absl::Status(self.status().code(),
                        absl::StrCat("checking the Vault token: ",
                                     self.status().message()));
  }
  // The answer of <mount>/issuer/<ref>/json has the sign endpoint's
  // certificate / ca_chain shape.
  absl::StatusOr<SecretData> answer = client_->Read(issuer_path_);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat("reading ", issuer_path_, ": ",
                                     answer.status().message()));
  }
  absl::StatusOr<internal::SignResponse> response =
      internal::ParseSignResponse(answer->view());
  if (!response.ok()) {
    return absl::DataLossError(absl::StrCat(
        issuer_path_, ": ", response.status().message()));
  }
  auto issuer = std::make_shared<Issuer>();
  issuer->reported_pem = response->certificate;
  for (const std::string& pem : response->ca_pems) {
    absl::StrAppend(&issuer->reported_pem, pem);
  }
  absl::StatusOr<::vaultca::internal::SslUniquePtr<X509>> cert =
      x509::ParseCertificate(response->certificate, "the issuer certificate");
  if (!cert.ok()) return absl::DataLossError(cert.status().message());
  ::vaultca::internal::SslUniquePtr<STACK_OF(X509)> others(sk_X509_new_null());
  ::vaultca::internal::SslUniquePtr<STACK_OF(X509)> derived_roots(sk_X509_new_null());
  if (others == nullptr || derived_roots == nullptr) {
    return absl::ResourceExhaustedError("sk_X509_new_null");
  }
  auto keep = [](STACK_OF(X509) * stack, X509* c) {
    for (int i = 0; i < sk_X509_num(stack); ++i) {
      if (SameCertificate(sk_X509_value(stack, i), c)) return true;
    }
    X509_up_ref(c);
    if (sk_X509_push(stack, c) == 0) X509_free(c);
    return true;
  };
  if (X509_self_signed(cert->get(), 1) == 1) {
    keep(derived_roots.get(), cert->get());
  }
  for (const std::string& pem : response->ca_pems) {
    absl::StatusOr<std::vector<::vaultca::internal::SslUniquePtr<X509>>> certs =
        x509::ParseCertificates(pem, "ca_chain");
    if (!certs.ok()) return absl::DataLossError(certs.status().message());
    for (const ::vaultca::internal::SslUniquePtr<X509>& c : *certs) {
      if (SameCertificate(c.get(), cert->get())) continue;
      // A self-signed certificate Vault holds is a root of the chain.
      keep(X509_self_signed(c.get(), 1) == 1 ? derived_roots.get()
                                              : others.get(),
           c.get());
    }
  }
  STACK_OF(X509)* roots = derived_roots.get();
  ::vaultca::internal::SslUniquePtr<STACK_OF(X509)> pinned;
  if (!options_.pki.root_bundle_pem.empty()) {
    absl::StatusOr<::vaultca::internal::SslUniquePtr<STACK_OF(X509)>> parsed =
        x509::ParseCertificateStack(options_.pki.root_bundle_pem,
                                        "the pinned root bundle");
    if (!parsed.ok()) return parsed.status();
    pinned = *std::move(parsed);
    roots = pinned.get();
    // Vault's own roots may be intermediates under a pinned root (a
    // cross-signed chain): they are then path elements.
    for (int i = 0; i < sk_X509_num(derived_roots.get()); ++i) {
      keep(others.get(), sk_X509_value(derived_roots.get(), i));
    }
  } else if (sk_X509_num(roots) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the issuer chain of ", description_, " ends at '",
        x509::NameToString(X509_get_issuer_name(
            sk_X509_num(others.get()) > 0
                ? sk_X509_value(others.get(), sk_X509_num(others.get()) - 1)
                : cert->get())),
        "', a root Vault does not hold (an offline root): import it with the "
        "intermediate (<mount>/intermediate/set-signed with the intermediate "
        "followed by the root) or pin it (ca.vault_pki.root_cert_file)"));
  }
  const absl::Time now = options_.clock();
  absl::StatusOr<::vaultca::internal::SslUniquePtr<STACK_OF(X509)>> path =
      x509::VerifyToRoots(cert->get(), others.get(), roots, now,
                              absl::StrCat("the issuer of ", description_));
  if (!path.ok()) {
    return absl::FailedPreconditionError(path.status().message());
  }
  absl::StatusOr<std::string> roots_pem = x509::CertificatesToPem(roots);
  if (!roots_pem.ok()) return roots_pem.status();
  issuer->roots_pem = *std::move(roots_pem);
  issuer->serial_hex = x509::SerialHex(cert->get());
  issuer->subject = x509::NameToString(X509_get_subject_name(cert->get()));
  absl::StatusOr<absl::Time> not_before =
      x509::Asn1TimeToTime(X509_get0_notBefore(cert->get()));
  if (not_before.ok()) issuer->not_before = *not_before;
  issuer->not_after = NotAfter(cert->get());
  // Every certificate of the validated path but its anchor.
  issuer->chain_not_after = issuer->not_after;
  for (int i = 0; i + 1 < sk_X509_num(path->get()); ++i) {
    issuer->chain_not_after =
        std::min(issuer->chain_not_after, NotAfter(sk_X509_value(path->get(), i)));
  }
  for (int i = 0; i < sk_X509_num(roots); ++i) {
    absl::StatusOr<std::string> fp =
        x509::Sha256FingerprintHex(sk_X509_value(roots, i));
    if (fp.ok()) issuer->root_fingerprints.push_back(*std::move(fp));
  }
  VaultPkiCaOptions pki = options_.pki;
  pki.root_bundle_pem = issuer->roots_pem;
  absl::StatusOr<std::unique_ptr<VaultPkiCertificateAuthority>> signer =
      VaultPkiCertificateAuthority::New(client_, std::move(pki));
  if (!signer.ok()) return signer.status();
  issuer->signer = *std::move(signer);
  return std::shared_ptr<const Issuer>(std::move(issuer));
}

absl::Status ManagedVaultPkiCa::Refresh() {
  MutexLock lock(&refresh_mu_);
  return RefreshLocked();
}

absl::Status ManagedVaultPkiCa::RefreshLocked() {
  const absl::Time now = options_.clock();
  {
    MutexLock lock(&mu_);
    ++refreshes_;
    last_refresh_attempt_ = now;
  }
  absl::StatusOr<std::shared_ptr<const Issuer>> read = ReadIssuer();
  const std::shared_ptr<const Issuer> previous = std::atomic_load(&current_);
  if (!read.ok()) {
    const absl::Status& s = read.status();
    bool log = false;
    {
      MutexLock lock(&mu_);
      if (absl::IsDataLoss(s)) {
        ++failures_.parse;
      } else if (absl::IsFailedPrecondition(s)) {
        ++failures_.validation;
      } else {
        ++failures_.fetch;
      }
      // Once per distinct error, not once per retry.
      log = last_refresh_.ok() || last_refresh_.message() != s.message();
      last_refresh_ = s;
    }
    if (log) {
      VAULTCA_LOG(WARNING) << "cannot read the issuer chain of "
                           << description_ << ": " << s
                           << (previous != nullptr
                                   ? "; not ready until Vault answers"
                                   : "");
    }
    return s;
  }
  std::shared_ptr<const Issuer> next = *std::move(read);
  bool recovered = false;
  if (previous != nullptr && previous->reported_pem == next->reported_pem &&
      previous->roots_pem == next->roots_pem) {
    MutexLock lock(&mu_);
    recovered = !last_refresh_.ok();
    last_refresh_ = absl::OkStatus();
    last_success_ = now;
  } else {
    auto fresh = std::make_shared<Issuer>(*next);
    fresh->generation = previous == nullptr ? 1 : previous->generation + 1;
    std::atomic_store(&current_, std::shared_ptr<const Issuer>(fresh));
    {
      MutexLock lock(&mu_);
      last_refresh_ = absl::OkStatus();
      last_success_ = now;
      if (previous != nullptr) {
        ++rotations_;
        last_rotation_ = now;
      }
    }
    VAULTCA_LOG(INFO) << "issuer chain of " << description_
                      << (previous == nullptr ? " in service: " : " changed: ")
                      << fresh->subject << ", serial " << fresh->serial_hex
                      << ", expires " << TimeText(fresh->not_after)
                      << (previous != nullptr &&
                                  previous->roots_pem != fresh->roots_pem
                              ? "; THE ROOTS CHANGED"
                              : "");
    return absl::OkStatus();
  }
  if (recovered) {
    VAULTCA_LOG(INFO) << "the issuer chain of " << description_
                      << " is readable again";
  }
  return absl::OkStatus();
}

absl::Duration ManagedVaultPkiCa::Backoff(int failures) const {
  absl::Duration wait = options_.min_retry_backoff;
  for (int i = 1; i < failures && wait < options_.max_retry_backoff; ++i) {
    wait *= 2;
  }
  return std::min({wait, options_.max_retry_backoff, options_.refresh_interval});
}

void ManagedVaultPkiCa::RefreshLoop(int initial_failures) {
  // -1: nothing read yet, read at once.
  int failures = initial_failures;
  while (true) {
    if (failures >= 0) {
      const absl::Duration wait =
          failures == 0 ? options_.refresh_interval : Backoff(failures);
      MutexLock lock(&mu_);
      if (stop_) return;
      wake_.WaitWithTimeout(&mu_, wait);
      if (stop_) return;
    }
    failures = Refresh().ok() ? 0 : std::max(failures, 0) + 1;
  }
}

absl::Status ManagedVaultPkiCa::Readiness() const {
  const bool loaded = std::atomic_load(&current_) != nullptr;
  MutexLock lock(&mu_);
  if (!loaded) {
    return absl::UnavailableError(
        absl::StrCat("the issuer chain of ", description_,
                     " has not been read yet: ", last_refresh_.message()));
  }
  if (!last_refresh_.ok()) {
    return absl::UnavailableError(
        absl::StrCat(description_, " cannot be reached or read: ",
                     last_refresh_.message()));
  }
  return absl::OkStatus();
}

CaStats ManagedVaultPkiCa::Stats() const {
  CaStats stats;
  const absl::Time now = options_.clock();
  if (const std::shared_ptr<const Issuer> issuer = std::atomic_load(&current_)) {
    stats.has_material = true;
    stats.serial_hex = issuer->serial_hex;
    stats.subject = issuer->subject;
    stats.not_before = issuer->not_before;
    stats.not_after = issuer->not_after;
    stats.root_fingerprints = issuer->root_fingerprints;
    stats.generation = issuer->generation;
    stats.chain_not_after = issuer->chain_not_after;
  }
  const absl::Status readiness = Readiness();
  stats.ready = readiness.ok();
  stats.not_ready_reason = std::string(readiness.message());
  MutexLock lock(&mu_);
  stats.stale =
      stats.has_material && now - last_success_ > options_.max_staleness;
  stats.last_refresh_attempt = last_refresh_attempt_;
  stats.last_successful_refresh = last_success_;
  stats.last_rotation = last_rotation_;
  stats.last_error =
      last_refresh_.ok() ? "" : std::string(last_refresh_.message());
  stats.refreshes = refreshes_;
  stats.rotations = rotations_;
  stats.failures = failures_;
  return stats;
}

}  // namespace ca
}  // namespace vaultca
