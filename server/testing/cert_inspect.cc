#include "server/testing/cert_inspect.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"
#include "server/auth/client_cert_authenticator.h"

namespace vaultca {
namespace server {
namespace testing {

using ::vaultca::internal::SslUniquePtr;

absl::StatusOr<LeafInfo> InspectLeaf(const std::string& pem) {
  auto certs = x509::ParseCertificates(pem, "leaf");
  if (!certs.ok()) return certs.status();
  X509* cert = (*certs)[0].get();
  LeafInfo info;
  auto nb = x509::Asn1TimeToTime(X509_get0_notBefore(cert));
  auto na = x509::Asn1TimeToTime(X509_get0_notAfter(cert));
  if (!nb.ok()) return nb.status();
  if (!na.ok()) return na.status();
  info.not_before = *nb;
  info.not_after = *na;
  auto sans = CertificateSans(pem);
  if (!sans.ok()) return sans.status();
  info.sans = *sans;
  const int idx = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  info.san_critical =
      idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
  info.subject = x509::NameToString(X509_get_subject_name(cert));
  info.issuer = x509::NameToString(X509_get_issuer_name(cert));
  return info;
}

absl::Status VerifyLeaf(const std::vector<std::string>& chain,
                        const std::string& roots_pem) {
  if (chain.empty()) return absl::InvalidArgumentError("empty chain");
  auto leaf = x509::ParseCertificate(chain[0], "leaf");
  if (!leaf.ok()) return leaf.status();
  auto roots = x509::ParseCertificates(roots_pem, "roots");
  if (!roots.ok()) return roots.status();
  SslUniquePtr<X509_STORE> store(X509_STORE_new());
  for (auto& root : *roots) X509_STORE_add_cert(store.get(), root.get());
  SslUniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    auto certs = x509::ParseCertificates(chain[i], "chain");
    if (!certs.ok()) return certs.status();
    for (auto& c : *certs) sk_X509_push(untrusted.get(), c.release());
  }
  for (int purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    SslUniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), untrusted.get());
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    if (X509_verify_cert(ctx.get()) != 1) {
      const int err = X509_STORE_CTX_get_error(ctx.get());
      vaultca::internal::ClearSslErrors();
      return absl::InvalidArgumentError(
          absl::StrCat("leaf does not verify: ",
                       X509_verify_cert_error_string(err)));
    }
  }
  return absl::OkStatus();
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
