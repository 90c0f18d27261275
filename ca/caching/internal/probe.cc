#include "ca/caching/internal/probe.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "x509/chain_verify.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "x509/pem.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// Any well-formed identity: the probe leaf is never handed out.
constexpr char kProbeIdentity[] = "spiffe://vaultca.invalid/ns/vaultca/sa/probe";

absl::Status ProbeError(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("probe signing with the new CA material failed: ", what));
}

// One probe key and CSR per process: only the public half matters, and
// generating them per refresh would be wasted work.
struct ProbeKey {
  SslUniquePtr<EVP_PKEY> key;
  std::string csr_pem;
  absl::Status status;
};

ProbeKey* MakeProbeKey() {
  auto* probe = new ProbeKey;
  probe->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  SslUniquePtr<X509_REQ> req(X509_REQ_new());
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (probe->key == nullptr || req == nullptr || bio == nullptr ||
      X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), probe->key.get()) != 1 ||
      X509_REQ_sign(req.get(), probe->key.get(), EVP_sha256()) <= 0 ||
      PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    probe->status =
        SslError(absl::StatusCode::kInternal, "cannot build the probe CSR");
    return probe;
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  probe->csr_pem.assign(data, static_cast<size_t>(size));
  return probe;
}

const ProbeKey& GetProbeKey() {
  static const ProbeKey* const probe = MakeProbeKey();
  return *probe;
}

}  // namespace

absl::Status ProbeSigning(CertificateAuthority& ca, const KeyCertBundle& bundle,
                          absl::Time now) {
  const ProbeKey& probe = GetProbeKey();
  if (!probe.status.ok()) return probe.status;

  absl::StatusOr<VerifiedCsr> csr = ca.policy().VerifyCsr(probe.csr_pem);
  if (!csr.ok()) {
    return ProbeError(absl::StrCat("Sign: ", csr.status().message()));
  }
  SignRequest request;
  request.csr = *std::move(csr);
  request.identities = {kProbeIdentity};
  request.requested_ttl = absl::Minutes(5);
  absl::StatusOr<SignedChain> signed_chain = ca.Sign(request);
  if (!signed_chain.ok()) {
    return ProbeError(absl::StrCat("Sign: ", signed_chain.status().message()));
  }
  // The Istio shape: [leaf, each chain certificate, the root bundle].
  const std::vector<std::string>& pems = signed_chain->cert_chain;
  const std::vector<std::string>& chain = bundle.chain_pems();
  if (pems.size() != chain.size() + 2) {
    return ProbeError(absl::StrCat("the answer has ", pems.size(),
                                   " elements; expected the leaf, ",
                                   chain.size(),
                                   " chain certificate(s) and the root bundle"));
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    if (pems[i + 1] != chain[i]) {
      return ProbeError(absl::StrCat("answer element ", i + 1,
                                     " is not chain certificate ", i));
    }
  }
  if (pems.back() != bundle.root_bundle_pem()) {
    return ProbeError("the answer's last element is not the root bundle");
  }
  auto leaf = x509::ParseCertificate(pems.front(), "probe leaf");
  if (!leaf.ok()) return ProbeError(leaf.status().message());
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), probe.key.get()) != 1) {
    return ProbeError("the leaf does not carry the requested public key");
  }
  // The verdict that matters: the leaf verifies through the chain to the
  // roots workloads are given.
  auto path = x509::VerifyToRoots(leaf->get(), KeyCertBundleAccess::Chain(bundle),
                            KeyCertBundleAccess::Roots(bundle), now,
                            "probe leaf");
  if (!path.ok()) return ProbeError(path.status().message());
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
