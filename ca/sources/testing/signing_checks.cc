#include "ca/sources/testing/signing_checks.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/csr.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace testing {

using ::vaultca::internal::SslUniquePtr;

SignRequest TestSignRequest(const std::string& ns, const std::string& sa) {
  SignRequest request;
  request.csr_pem = testkit::TestCsrPem();
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
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf->get()),
                  testkit::CachedCsrKey("EC:P-256")) != 1) {
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
