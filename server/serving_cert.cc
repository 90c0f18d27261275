#include "server/serving_cert.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "common/log.h"
#include "server/internal/file_util.h"
#include "server/internal/key_csr.h"

namespace vaultca {
namespace server {

absl::StatusOr<std::unique_ptr<ServingCert>> ServingCert::New(
    ServingCertOptions options) {
  if (options.dir.empty() || options.dns_names.empty() ||
      options.ttl <= absl::ZeroDuration() || options.renew_fraction <= 0 ||
      options.renew_fraction >= 1 || !options.clock) {
    return absl::InvalidArgumentError(
        "serving certificate needs a directory, DNS names, a positive TTL "
        "and a renewal fraction in (0, 1)");
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
