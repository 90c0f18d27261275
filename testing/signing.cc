
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "common/internal/ssl_unique_ptr.h"
#include "testing/csr.h"
#include "testing/signing.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"
#include "x509/x509_util.h"

namespace vaultca {
namespace testkit {

using ::vaultca::internal::SslUniquePtr;

ca::SignRequest TestSignRequest(const std::string& ns, const std::string& sa) {
  // Verified once per process, under istiod's default policy: every CA in
  // these tests accepts a P-256 key.
  static const ca::VerifiedCsr* const verified = [] {
    absl::StatusOr<ca::VerifiedCsr> csr =
        ca::IssuancePolicy::Default()->VerifyCsr(TestCsrPem());
    if (!csr.ok()) {
      std::fprintf(stderr, "TestSignRequest: %s\n",
                   csr.status().ToString().c_str());
      std::abort();
    }
    return new ca::VerifiedCsr(*std::move(csr));
  }();
  ca::SignRequest request;
  request.csr = *verified;
  request.identities = {
      absl::StrCat("spiffe://cluster.local/ns/", ns, "/sa/", sa)};
  request.requested_ttl = absl::Hours(1);
  return request;
}

std::optional<ca::VerifiedCsr> MustVerify(const std::string& pem,
                                          const ca::IssuancePolicy* policy) {
  absl::StatusOr<ca::VerifiedCsr> csr =
      policy != nullptr ? policy->VerifyCsr(pem)
                        : ca::IssuancePolicy::Default()->VerifyCsr(pem);
  EXPECT_TRUE(csr.ok()) << csr.status();
  if (!csr.ok()) return std::nullopt;
  return *std::move(csr);
}

ca::SignRequest RequestFor(const ca::CertificateAuthority& ca,
                           const std::string& pem,
                           std::vector<std::string> identities,
                           absl::Duration ttl) {
  ca::SignRequest request;
  request.csr = MustVerify(pem, &ca.policy());
  request.identities = std::move(identities);
  request.requested_ttl = ttl;
  return request;
}

absl::StatusOr<std::vector<std::string>> VerifyToBundle(
    const std::vector<std::string>& chain, const std::string& root_bundle_pem,
    absl::Time now) {
  if (chain.empty()) return absl::InvalidArgumentError("empty chain");
  auto leaf = x509::ParseCertificate(chain.front(), "leaf");
  if (!leaf.ok()) return leaf.status();
  SslUniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  for (size_t i = 1; i + 1 < chain.size(); ++i) {
    auto certs = x509::ParseCertificates(chain[i], "chain element");
    if (!certs.ok()) return certs.status();
    for (auto& cert : *certs) sk_X509_push(untrusted.get(), cert.release());
  }
  auto roots = x509::ParseCertificateStack(root_bundle_pem, "trust bundle");
  if (!roots.ok()) return roots.status();
  auto path = x509::VerifyToRoots(leaf->get(), untrusted.get(), roots->get(),
                                  now, "leaf");
  if (!path.ok()) return path.status();
  std::vector<std::string> pems;
  for (int i = 0; i < sk_X509_num(path->get()); ++i) {
    auto pem = x509::CertificateToPem(sk_X509_value(path->get(), i));
    if (!pem.ok()) return pem.status();
    pems.push_back(*std::move(pem));
  }
  return pems;
}

absl::Status VerifyIssued(const ca::SignedChain& chain,
                          const std::string& root_bundle_pem, absl::Time now) {
  const std::vector<std::string>& pems = chain.cert_chain;
  if (pems.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("chain has ", pems.size(), " elements, want >= 2"));
  }
  auto leaf = x509::ParseCertificate(pems.front(), "leaf");
  if (!leaf.ok()) return leaf.status();
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), CachedCsrKey("EC:P-256")) !=
      1) {
    return absl::InvalidArgumentError("leaf does not carry the CSR's key");
  }
  return VerifyToBundle(pems, root_bundle_pem, now).status();
}

absl::StatusOr<std::string> IssuerOf(const ca::SignedChain& chain) {
  if (chain.cert_chain.empty()) return absl::InvalidArgumentError("empty chain");
  auto leaf = x509::ParseCertificate(chain.cert_chain.front(), "leaf");
  if (!leaf.ok()) return leaf.status();
  return x509::NameToString(X509_get_issuer_name(leaf->get()));
}

}  // namespace testkit
}  // namespace vaultca
