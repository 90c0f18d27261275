#include "ca/sources/self_signed/self_signed_source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "ca/sources/internal/file_io.h"
#include "common/log.h"

namespace vaultca {
namespace ca {
namespace {

constexpr int kKeyMode = 0600;
constexpr int kCertMode = 0644;
constexpr int kDirMode = 0700;

struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};

absl::StatusOr<Validity> ReadValidity(const std::string& cert_pem,
                                      absl::string_view what) {
  auto cert = x509::ParseCertificate(cert_pem, what);
  if (!cert.ok()) return cert.status();
  auto not_before = x509::Asn1TimeToTime(X509_get0_notBefore(cert->get()));
  if (!not_before.ok()) return not_before.status();
  auto not_after = x509::Asn1TimeToTime(X509_get0_notAfter(cert->get()));
  if (!not_after.ok()) return not_after.status();
  return Validity{*not_before, *not_after};
}

}  // namespace

absl::StatusOr<std::unique_ptr<SelfSignedSource>> SelfSignedSource::New(
    SelfSignedSourceOptions options) {
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError(
        "self-signed CA source: state_dir is empty; set it to a persistent "
        "directory that keeps the root key across restarts");
  }
  if (options.trust_domain.empty()) {
    return absl::InvalidArgumentError(
        "self-signed CA source: trust_domain is empty; it becomes the root's "
        "O= (istiod uses cluster.local)");
  }
  if (options.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "self-signed CA source: ttl must be positive (istiod: 10 years)");
  }
  if (!(options.renew_fraction > 0.0 && options.renew_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        "self-signed CA source: renew_fraction must be in (0, 1) (istiod: 0.2)");
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  while (options.state_dir.size() > 1 && options.state_dir.back() == '/') {
    options.state_dir.pop_back();
  }
  if (absl::Status s = internal::EnsureDirectory(options.state_dir, kDirMode);
      !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "self-signed CA source: ", s.message(),
        "; point state_dir at a writable persistent directory"));
  }
  return std::unique_ptr<SelfSignedSource>(
      new SelfSignedSource(std::move(options)));
}

SelfSignedSource::SelfSignedSource(SelfSignedSourceOptions options)
    : options_(std::move(options)),
      key_path_(absl::StrCat(options_.state_dir, "/ca-key.pem")),
      cert_path_(absl::StrCat(options_.state_dir, "/ca-cert.pem")),
      lock_path_(absl::StrCat(options_.state_dir, "/.lock")) {}

std::string SelfSignedSource::Description() const {
  return absl::StrCat("self-signed:", options_.state_dir);
}

absl::StatusOr<CaMaterialPem> SelfSignedSource::Fetch() {
  MutexLock lock(&mu_);
  const int lock_fd =
      ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kKeyMode);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(Description(), ": cannot open lock file '", lock_path_,
                     "': ", strerror(errno)));
  }
  absl::Cleanup closer = [lock_fd] { ::close(lock_fd); };
  while (::flock(lock_fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      return absl::FailedPreconditionError(absl::StrCat(
          Description(), ": cannot lock '", lock_path_, "': ", strerror(errno)));
    }
  }
  // Closing the descriptor releases the flock.
  return FetchLocked();
}

absl::StatusOr<CaMaterialPem> SelfSignedSource::FetchLocked() {
  const absl::Time now = options_.clock();
  const bool have_key = internal::FileExists(key_path_);
  const bool have_cert = internal::FileExists(cert_path_);

  if (!have_key && have_cert) {
    return absl::FailedPreconditionError(absl::StrCat(
        Description(), ": ", cert_path_, " exists but ", key_path_,
        " does not: the root's key is lost. Restore ca-key.pem, or delete "
        "ca-cert.pem to generate a new root (every workload must then be "
        "given the new root)"));
  }
  if (!have_key) {
    auto key = GeneratePrivateKeyPem(options_.key_type);
    if (!key.ok()) return key.status();
    if (absl::Status s =
            internal::WriteFileAtomically(key_path_, key->view(), kKeyMode);
        !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          Description(), ": cannot persist the new root key: ", s.message()));
    }
    return IssueAndPersist(*key, now, "first start: generated a new root");
  }

  auto key = internal::ReadSecretFile(key_path_);
  if (!key.ok()) return key.status();
  if (!have_cert) {
    return IssueAndPersist(*key, now,
                           "ca-cert.pem missing: issued a root for the "
                           "existing key");
  }
  auto cert = internal::ReadFile(cert_path_);
  if (!cert.ok()) return cert.status();
  auto validity = ReadValidity(*cert, cert_path_);
  if (!validity.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Description(), ": ", validity.status().message(),
        "; repair ca-cert.pem or delete it to re-issue the root from the "
        "existing key"));
  }
  const absl::Duration lifetime = validity->not_after - validity->not_before;
  if (validity->not_after - now < lifetime * options_.renew_fraction) {
    return IssueAndPersist(
        *key, now,
        absl::StrCat("renewed the root with the same key: it expires ",
                     absl::FormatTime(validity->not_after), ", less than ",
                     options_.renew_fraction * 100, "% of its life left"));
  }

  CaMaterialPem material;
  material.cert_pem = *cert;
  material.key_pem = *std::move(key);
  material.root_bundle_pem = *std::move(cert);
  // Checked here so a key that does not match its cert is reported against
  // the state directory, where the operator has to fix it.
  auto bundle = KeyCertBundle::Create(material, now);
  if (!bundle.ok()) {
    return absl::Status(
        bundle.status().code(),
        absl::StrCat(Description(), ": the persisted root is unusable: ",
                     bundle.status().message(),
                     "; restore the matching ca-key.pem/ca-cert.pem pair"));
  }
  return material;
}

absl::StatusOr<CaMaterialPem> SelfSignedSource::IssueAndPersist(
    const SecretData& key_pem, absl::Time now, absl::string_view why) {
  RootOptions root;
  root.organization = options_.trust_domain;
  root.key_pem = key_pem;
  root.ttl = options_.ttl;
  root.now = now;
  auto generated = GenerateSelfSignedRoot(root);
  if (!generated.ok()) {
    return absl::Status(
        generated.status().code(),
        absl::StrCat(Description(), ": cannot issue the root from ", key_path_,
                     ": ", generated.status().message()));
  }
  if (absl::Status s = internal::WriteFileAtomically(
          cert_path_, generated->cert_pem, kCertMode);
      !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Description(), ": cannot persist the root certificate: ", s.message()));
  }
  VAULTCA_LOG(INFO) << Description() << ": " << why << " (O="
                    << options_.trust_domain << ", valid until "
                    << absl::FormatTime(now + options_.ttl) << ")";
  CaMaterialPem material;
  material.cert_pem = generated->cert_pem;
  // The key as stored, so repeated fetches return identical bytes.
  material.key_pem = key_pem;
  material.root_bundle_pem = generated->cert_pem;
  return material;
}

}  // namespace ca
}  // namespace vaultca
