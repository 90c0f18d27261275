#include "server/serving_cert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "common/log.h"
#include "server/internal/file_util.h"
#include "server/internal/key_csr.h"

namespace vaultca {
namespace server {
namespace {

// The directory holds the serving key and the files gRPC loads: anyone else
// who can write it could swap the certificate or the client-verification
// roots, or plant a link where the key is written. A missing directory is
// fine (it is created 0700).
absl::Status CheckExistingDirectory(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot inspect the serving certificate directory ", dir,
                     ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the serving certificate directory ", dir,
        " exists and is not a directory; remove it or set serving.cert_dir"));
  }
  const uid_t uid = ::geteuid();
  if (st.st_uid != uid) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the serving certificate directory ", dir, " is owned by uid ",
        st.st_uid, ", not by vaultca-server's uid ", uid,
        "; it holds the serving key: chown ", uid, " ", dir,
        " and chmod 0700, or point serving.cert_dir at a new path"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return absl::FailedPreconditionError(absl::StrCat(
        "the serving certificate directory ", dir, " has mode ", mode,
        ": other users can write it, and it holds the serving key; chmod "
        "0700 ", dir, ", or point serving.cert_dir at a new path (a Kubernetes "
        "emptyDir is 0777: mount it one level up)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServingCert>> ServingCert::New(
    ServingCertOptions options) {
  if (options.dir.empty() || options.dns_names.empty() ||
      options.ttl <= absl::ZeroDuration() || options.renew_fraction <= 0 ||
      options.renew_fraction >= 1 || !options.clock) {
    return absl::InvalidArgumentError(
        "serving certificate needs a directory, DNS names, a positive TTL "
        "and a renewal fraction in (0, 1)");
  }
  if (absl::Status s = CheckExistingDirectory(options.dir); !s.ok()) {
    return s;
  }
  if (absl::Status s = internal::MakeDirectories(options.dir, 0700); !s.ok()) {
    return s;
  }
  absl::StatusOr<SecretData> key = ca::GeneratePrivateKeyPem(ca::KeyType::kEcP256);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = internal::CsrForKey(*key);
  if (!csr.ok()) return csr.status();
  auto cert = std::unique_ptr<ServingCert>(
      new ServingCert(std::move(options), *std::move(csr)));
  if (absl::Status s =
          internal::WriteFileAtomically(cert->key_file(), key->view(), 0600);
      !s.ok()) {
    return s;
  }
  return cert;
}

ServingCert::ServingCert(ServingCertOptions options, std::string csr_pem)
    : options_(std::move(options)), csr_pem_(std::move(csr_pem)) {}

absl::StatusOr<bool> ServingCert::Refresh(
    ca::CertificateAuthority& ca,
    const std::shared_ptr<const ca::KeyCertBundle>& material) {
  const absl::Time now = options_.clock();
  const absl::Duration life = not_after_ - not_before_;
  const bool first = issued_ == 0;
  const bool rotated = material != material_;
  const bool renew = !first && now >= not_after_ - life * options_.renew_fraction;
  if (!first && !rotated && !renew) return false;

  ca::SignRequest request;
  request.csr_pem = csr_pem_;
  request.identities = options_.dns_names;
  request.requested_ttl = options_.ttl;
  absl::StatusOr<ca::SignedChain> chain = ca.Sign(request);
  if (!chain.ok()) {
    return absl::Status(chain.status().code(),
                        absl::StrCat("cannot issue the serving certificate: ",
                                     chain.status().message()));
  }
  absl::StatusOr<internal::Validity> validity =
      internal::CertificateValidity(chain->cert_chain[0]);
  if (!validity.ok()) return validity.status();
  // Everything but the last element (the root bundle): leaf, then the CA
  // chain so clients can build the path.
  std::string cert_chain;
  for (size_t i = 0; i + 1 < chain->cert_chain.size(); ++i) {
    absl::StrAppend(&cert_chain, chain->cert_chain[i]);
  }
  // Roots first: a client certificate from the new root must verify as
  // soon as the new serving certificate is out.
  if (absl::Status s = internal::WriteFileAtomically(
          roots_file(), chain->cert_chain.back(), 0644);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          internal::WriteFileAtomically(cert_file(), cert_chain, 0644);
      !s.ok()) {
    return s;
  }
  material_ = material;
  not_before_ = validity->not_before;
  not_after_ = validity->not_after;
  ++issued_;
  VAULTCA_LOG(INFO) << "serving certificate "
                    << (first ? "issued" : rotated ? "re-issued after a CA "
                                                     "rotation"
                                                   : "renewed")
                    << ", valid until " << absl::FormatTime(not_after_);
  return true;
}

}  // namespace server
}  // namespace vaultca
