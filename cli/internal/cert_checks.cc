#include "cli/internal/cert_checks.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace cli {
namespace internal {
namespace {

using ::vaultca::internal::SslUniquePtr;

// Refuses to prompt: an encrypted key fails at once.
int NoPassphrase(char*, int, int, void*) { return -1; }

SslUniquePtr<BIO> MemBio(absl::string_view data) {
  return SslUniquePtr<BIO>(
      BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

std::string Subject(X509* cert) {
  SslUniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, n) : std::string("(empty subject)");
}

std::string ToPem(X509* cert) {
  SslUniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, n > 0 ? n : 0);
}

absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> ReadAll(absl::string_view pem,
                                                      bool allow_empty) {
  SslUniquePtr<STACK_OF(X509)> certs(sk_X509_new_null());
  SslUniquePtr<BIO> in = MemBio(pem);
  ::vaultca::internal::ClearSslErrors();
  while (true) {
    X509* cert = PEM_read_bio_X509(in.get(), nullptr, NoPassphrase, nullptr);
    if (cert == nullptr) break;
    sk_X509_push(certs.get(), cert);
  }
  const unsigned long err = ERR_peek_last_error();
  if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM &&
                    ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    return ::vaultca::internal::SslError(absl::StatusCode::kInvalidArgument,
                                         "a certificate does not parse");
  }
  ::vaultca::internal::ClearSslErrors();
  if (!allow_empty && sk_X509_num(certs.get()) == 0) {
    return absl::InvalidArgumentError("no PEM CERTIFICATE block found");
  }
  return certs;
}

}  // namespace

absl::StatusOr<std::vector<CertInfo>> ParseCertificates(absl::string_view pem) {
  auto certs = ReadAll(pem, /*allow_empty=*/false);
  if (!certs.ok()) return certs.status();
  std::vector<CertInfo> out;
  for (int i = 0; i < sk_X509_num(certs->get()); ++i) {
    X509* cert = sk_X509_value(certs->get(), i);
    CertInfo info;
    info.subject = Subject(cert);
    info.not_before = AsnTime(X509_get0_notBefore(cert));
    info.not_after = AsnTime(X509_get0_notAfter(cert));
    const uint32_t flags = X509_get_extension_flags(cert);
    info.is_ca = (flags & EXFLAG_CA) != 0;
    info.key_cert_sign = (flags & EXFLAG_KUSAGE) == 0 ||
                         (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) != 0;
    info.self_signed = (flags & EXFLAG_SS) != 0;
    info.pem = ToPem(cert);
    out.push_back(std::move(info));
  }
  return out;
}

absl::Status KeyMatchesCertificate(const SecretData& key_pem,
                                   absl::string_view cert_pem) {
  auto certs = ReadAll(cert_pem, /*allow_empty=*/false);
  if (!certs.ok()) return certs.status();
  SslUniquePtr<BIO> in = MemBio(key_pem.view());
  ::vaultca::internal::ClearSslErrors();
  SslUniquePtr<EVP_PKEY> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return ::vaultca::internal::SslError(
        absl::StatusCode::kInvalidArgument,
        "the private key does not parse (it must be unencrypted PEM)");
  }
  X509* cert = sk_X509_value(certs->get(), 0);
  if (X509_check_private_key(cert, key.get()) != 1) {
    ::vaultca::internal::ClearSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("the private key is not the key of the certificate ",
                     Subject(cert)));
  }
  return absl::OkStatus();
}

absl::Status VerifyChain(absl::string_view leaf_pem,
                         absl::string_view intermediates_pem,
                         absl::string_view roots_pem, absl::Time at) {
  auto leaf = ReadAll(leaf_pem, false);
  if (!leaf.ok()) return leaf.status();
  auto intermediates = ReadAll(intermediates_pem, true);
  if (!intermediates.ok()) return intermediates.status();
  auto roots = ReadAll(roots_pem, false);
  if (!roots.ok()) return roots.status();
  SslUniquePtr<X509_STORE> store(X509_STORE_new());
  for (int i = 0; i < sk_X509_num(roots->get()); ++i) {
    X509_STORE_add_cert(store.get(), sk_X509_value(roots->get(), i));
  }
  SslUniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(),
                          sk_X509_value(leaf->get(), 0),
                          intermediates->get()) != 1) {
    return ::vaultca::internal::SslError(absl::StatusCode::kInternal,
                                         "X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(at));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ::vaultca::internal::ClearSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("does not verify to the root: ",
                     X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace cli
}  // namespace vaultca
