#include "server/internal/key_csr.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>

#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace server {
namespace internal {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

absl::StatusOr<std::string> CsrForKey(const SecretData& key_pem) {
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      x509::ParsePrivateKey(key_pem, "serving key");
  if (!key.ok()) return key.status();
  SslUniquePtr<X509_REQ> req(X509_REQ_new());
  if (req == nullptr || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key->get()) != 1 ||
      X509_REQ_sign(req.get(), key->get(), EVP_sha256()) <= 0) {
    return SslError(absl::StatusCode::kInternal, "cannot sign a serving CSR");
  }
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return SslError(absl::StatusCode::kInternal, "cannot encode a CSR");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<Validity> CertificateValidity(const std::string& pem) {
  auto certs = x509::ParseCertificates(pem, "certificate");
  if (!certs.ok()) return certs.status();
  X509* cert = (*certs)[0].get();
  auto not_before = x509::Asn1TimeToTime(X509_get0_notBefore(cert));
  if (!not_before.ok()) return not_before.status();
  auto not_after = x509::Asn1TimeToTime(X509_get0_notAfter(cert));
  if (!not_after.ok()) return not_after.status();
  return Validity{*not_before, *not_after};
}

absl::StatusOr<absl::Time> EarliestNotAfter(const std::string& pem) {
  auto certs = x509::ParseCertificates(pem, "certificates");
  if (!certs.ok()) return certs.status();
  absl::Time earliest = absl::InfiniteFuture();
  for (const auto& cert : *certs) {
    auto not_after = x509::Asn1TimeToTime(X509_get0_notAfter(cert.get()));
    if (!not_after.ok()) return not_after.status();
    earliest = std::min(earliest, *not_after);
  }
  return earliest;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
