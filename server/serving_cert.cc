#include "server/serving_cert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "ca/server_cert.h"
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

// Tolerance for clients whose clock is a little behind.
constexpr absl::Duration kBackdate = absl::Minutes(1);

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
    const std::shared_ptr<const ca::KeyCertBundle>& material,
    uint64_t generation) {
  const absl::Time now = options_.clock();
  const absl::Duration life = not_after_ - not_before_;
  const bool first = issued_ == 0;
  // In-process material is compared as such; a remote signer by generation.
  const bool rotated = material != nullptr ? material != material_
                                           : generation != generation_;
  const bool renew = !first && now >= not_after_ - life * options_.renew_fraction;
  if (!first && !rotated && !renew) return false;
  const char* why = first     ? "issued"
                    : rotated ? "re-issued after a CA rotation"
                              : "renewed";

  if (material == nullptr) {
    if (generation == 0) {
      return absl::FailedPreconditionError(
          "cannot issue the serving certificate: no CA material loaded");
    }
    absl::StatusOr<bool> issued = IssueThroughSign(ca, why);
    if (issued.ok()) {
      material_ = nullptr;
      generation_ = generation;
    }
    return issued;
  }
  ca::ServerCertRequest request;
  request.csr_pem = csr_pem_;
  request.names = options_.dns_names;
  request.not_before = now - kBackdate;
  request.not_after = std::min(now + options_.ttl, material->not_after());
  absl::StatusOr<std::string> leaf =
      ca::IssueServerCertificate(*material, request);
  if (!leaf.ok()) return leaf.status();
  // The leaf, then the CA chain so clients can build the path.
  std::string cert_chain = *leaf;
  for (const std::string& pem : material->chain_pems()) {
    absl::StrAppend(&cert_chain, pem);
  }
  absl::StatusOr<bool> installed =
      Install(*leaf, cert_chain, material->root_bundle_pem(), why);
  if (installed.ok()) {
    material_ = material;
    generation_ = generation;
  }
  return installed;
}

absl::StatusOr<bool> ServingCert::IssueThroughSign(ca::CertificateAuthority& ca,
                                                   const char* why) {
  absl::StatusOr<ca::VerifiedCsr> csr = ca.policy().VerifyCsr(csr_pem_);
  if (!csr.ok()) {
    return absl::Status(csr.status().code(),
                        absl::StrCat("cannot issue the serving certificate: ",
                                     csr.status().message()));
  }
  ca::SignRequest request;
  request.csr = *std::move(csr);
  request.identities = options_.dns_names;
  request.requested_ttl = options_.ttl;
  absl::StatusOr<ca::SignedChain> chain = ca.Sign(request);
  if (!chain.ok()) {
    return absl::Status(chain.status().code(),
                        absl::StrCat("cannot issue the serving certificate: ",
                                     chain.status().message()));
  }
  if (chain->cert_chain.size() < 2) {
    return absl::InternalError(
        "cannot issue the serving certificate: the CA returned no roots");
  }
  // [leaf, CA chain..., root bundle]: the file gRPC serves is all but the
  // roots, which go to the client-verification file.
  std::string cert_chain;
  for (size_t i = 0; i + 1 < chain->cert_chain.size(); ++i) {
    absl::StrAppend(&cert_chain, chain->cert_chain[i]);
  }
  return Install(chain->cert_chain.front(), cert_chain,
                 chain->cert_chain.back(), why);
}

absl::StatusOr<bool> ServingCert::Install(const std::string& leaf,
                                          const std::string& cert_chain,
                                          const std::string& roots,
                                          const char* why) {
  absl::StatusOr<internal::Validity> validity =
      internal::CertificateValidity(leaf);
  if (!validity.ok()) return validity.status();
  // Roots first: a client certificate from the new root must verify as
  // soon as the new serving certificate is out.
  if (absl::Status s =
          internal::WriteFileAtomically(roots_file(), roots, 0644);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          internal::WriteFileAtomically(cert_file(), cert_chain, 0644);
      !s.ok()) {
    return s;
  }
  not_before_ = validity->not_before;
  not_after_ = validity->not_after;
  ++issued_;
  VAULTCA_LOG(INFO) << "serving certificate " << why << ", valid until "
                    << absl::FormatTime(not_after_);
  return true;
}

}  // namespace server
}  // namespace vaultca
