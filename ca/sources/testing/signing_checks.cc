#include "ca/sources/testing/signing_checks.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

using ::vaultca::internal::SslUniquePtr;

struct TestKey {
  SslUniquePtr<EVP_PKEY> key;
  std::string csr_pem;
};

const TestKey& Key() {
  static const TestKey* const key = [] {
    auto* k = new TestKey;
    k->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    SslUniquePtr<X509_REQ> req(X509_REQ_new());
    SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (k->key == nullptr || req == nullptr || bio == nullptr ||
        X509_REQ_set_pubkey(req.get(), k->key.get()) != 1 ||
        X509_REQ_sign(req.get(), k->key.get(), EVP_sha256()) <= 0 ||
        PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
      std::fprintf(stderr, "signing_checks: cannot build the test CSR\n");
      std::abort();
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    k->csr_pem.assign(data, static_cast<size_t>(size));
    return k;
  }();
  return *key;
}

}  // namespace

const std::string& TestCsrPem() { return Key().csr_pem; }

SignRequest TestSignRequest(const std::string& ns, const std::string& sa) {
  // Verified once per process, under istiod's default policy: every CA in
  // these tests accepts a P-256 key.
  static const VerifiedCsr* const verified = [] {
    absl::StatusOr<VerifiedCsr> csr =
        IssuancePolicy::Default()->VerifyCsr(TestCsrPem());
    if (!csr.ok()) {
      std::fprintf(stderr, "TestSignRequest: %s\n",
                   csr.status().ToString().c_str());
      std::abort();
    }
    return new VerifiedCsr(*std::move(csr));
  }();
  SignRequest request;
  request.csr = *verified;
  request.identities = {absl::StrCat("spiffe://cluster.local/ns/", ns, "/sa/", sa)};
  request.requested_ttl = absl::Hours(1);
  return request;
}

absl::Status VerifyIssued(const SignedChain& chain,
                          const std::string& root_bundle_pem, absl::Time now) {
  const std::vector<std::string>& pems = chain.cert_chain;
  if (pems.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("chain has ", pems.size(), " elements, want >= 2"));
  }
  auto leaf = x509::ParseCertificate(pems.front(), "leaf");
  if (!leaf.ok()) return leaf.status();
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), Key().key.get()) != 1) {
    return absl::InvalidArgumentError("leaf does not carry the CSR's key");
  }
  SslUniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  for (size_t i = 1; i + 1 < pems.size(); ++i) {
    auto certs = x509::ParseCertificates(pems[i], "chain element");
    if (!certs.ok()) return certs.status();
    for (auto& cert : *certs) sk_X509_push(untrusted.get(), cert.release());
  }
  auto roots = x509::ParseCertificateStack(root_bundle_pem, "trust bundle");
  if (!roots.ok()) return roots.status();
  auto path = x509::VerifyToRoots(leaf->get(), untrusted.get(),
                                          roots->get(), now, "leaf");
  return path.status();
}

absl::StatusOr<std::string> IssuerOf(const SignedChain& chain) {
  if (chain.cert_chain.empty()) return absl::InvalidArgumentError("empty chain");
  auto leaf = x509::ParseCertificate(chain.cert_chain.front(), "leaf");
  if (!leaf.ok()) return leaf.status();
  return x509::NameToString(X509_get_issuer_name(leaf->get()));
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca
