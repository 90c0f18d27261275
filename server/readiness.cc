#include "server/readiness.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"
#include "server/internal/key_csr.h"

namespace vaultca {
namespace server {

absl::StatusOr<std::unique_ptr<SigningProbe>> SigningProbe::New(
    std::string trust_domain, absl::Duration cache_for,
    std::function<absl::Time()> clock) {
  absl::StatusOr<SecretData> key =
      ca::GeneratePrivateKeyPem(ca::KeyType::kEcP256);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = internal::CsrForKey(*key);
  if (!csr.ok()) return csr.status();
  return std::unique_ptr<SigningProbe>(new SigningProbe(
      absl::StrCat("spiffe://", trust_domain,
                   "/ns/vaultca-system/sa/readiness-probe"),
      *std::move(csr), cache_for, std::move(clock)));
}

SigningProbe::SigningProbe(std::string identity, std::string csr_pem,
                           absl::Duration cache_for,
                           std::function<absl::Time()> clock)
    : identity_(std::move(identity)),
      csr_pem_(std::move(csr_pem)),
      cache_for_(cache_for),
      clock_(std::move(clock)) {}

absl::Status SigningProbe::Check(ca::CertificateAuthority& ca) {
  MutexLock lock(&mu_);
  const absl::Time now = clock_();
  if (now - checked_at_ < cache_for_) return result_;
  result_ = SignAndVerify(ca, now);
  checked_at_ = now;
  return result_;
}

absl::Status SigningProbe::SignAndVerify(ca::CertificateAuthority& ca,
                                         absl::Time now) {
  absl::StatusOr<ca::VerifiedCsr> csr = ca.policy().VerifyCsr(csr_pem_);
  if (!csr.ok()) {
    return absl::UnavailableError(
        absl::StrCat("probe signing failed: ", csr.status().message()));
  }
  ca::SignRequest request;
  request.csr = *std::move(csr);
  request.identities = {identity_};
  request.requested_ttl = absl::Minutes(5);
  absl::StatusOr<ca::SignedChain> chain = ca.Sign(request);
  if (!chain.ok()) {
    return absl::UnavailableError(
        absl::StrCat("probe signing failed: ", chain.status().message()));
  }
  if (chain->cert_chain.size() < 2) {
    return absl::InternalError("probe chain lacks a root");
  }
  std::string intermediates;
  for (size_t i = 1; i + 1 < chain->cert_chain.size(); ++i) {
    absl::StrAppend(&intermediates, chain->cert_chain[i]);
  }
  auto leaf = x509::ParseCertificate(chain->cert_chain[0], "probe leaf");
  if (!leaf.ok()) return leaf.status();
  auto middle = x509::ParseCertificateStack(
      intermediates, "probe chain", /*allow_empty=*/true);
  if (!middle.ok()) return middle.status();
  auto roots = x509::ParseCertificateStack(chain->cert_chain.back(),
                                                   "probe roots");
  if (!roots.ok()) return roots.status();
  auto path = x509::VerifyToRoots(leaf->get(), middle->get(),
                                          roots->get(), now,
                                          "probe certificate");
  if (!path.ok()) {
    return absl::InternalError(
        absl::StrCat("probe certificate does not verify against the "
                     "published roots: ",
                     path.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace server
}  // namespace vaultca
