#include "ca/server_cert.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

absl::Status Failed(absl::string_view what) {
  return SslError(absl::StatusCode::kInternal,
                  absl::StrCat("cannot issue the serving certificate: ", what));
}

// A SAN entry: an IP address when `name` is an IP literal, else a DNS name.
SslUniquePtr<GENERAL_NAME> SanEntry(const std::string& name) {
  SslUniquePtr<GENERAL_NAME> entry(GENERAL_NAME_new());
  SslUniquePtr<ASN1_STRING> value(ASN1_STRING_new());
  if (entry == nullptr || value == nullptr) return nullptr;
  unsigned char ip[16];
  int type = GEN_DNS;
  if (inet_pton(AF_INET, name.c_str(), ip) == 1) {
    type = GEN_IPADD;
    ASN1_STRING_set(value.get(), ip, 4);
  } else if (inet_pton(AF_INET6, name.c_str(), ip) == 1) {
    type = GEN_IPADD;
    ASN1_STRING_set(value.get(), ip, 16);
  } else {
    value.reset(ASN1_IA5STRING_new());
    if (value == nullptr ||
        ASN1_STRING_set(value.get(), name.data(),
                        static_cast<int>(name.size())) != 1) {
      return nullptr;
    }
  }
  GENERAL_NAME_set0_value(entry.get(), type, value.release());
  return entry;
}

// The public key of a PEM CSR.
absl::StatusOr<SslUniquePtr<EVP_PKEY>> CsrPublicKey(const std::string& pem) {
  SslUniquePtr<BIO> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  SslUniquePtr<X509_REQ> req(
      bio == nullptr ? nullptr
                     : PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr,
                                             nullptr));
  EVP_PKEY* key = req == nullptr ? nullptr : X509_REQ_get_pubkey(req.get());
  if (key == nullptr) return Failed("the serving key's CSR does not parse");
  return SslUniquePtr<EVP_PKEY>(key);
}

}  // namespace

absl::StatusOr<std::string> IssueServerCertificate(
    const KeyCertBundle& bundle, const ServerCertRequest& request) {
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> public_key =
      CsrPublicKey(request.csr_pem);
  if (!public_key.ok()) return public_key.status();
  SslUniquePtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), 2) != 1) {
    return Failed("X509_new");
  }
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return Failed("no random serial");
  }
  serial_bytes[0] &= 0x7f;
  SslUniquePtr<BIGNUM> serial(
      BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
          nullptr) {
    return Failed("serial");
  }
  if (X509_set_issuer_name(cert.get(),
                           KeyCertBundleAccess::SubjectName(bundle)) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(request.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(request.not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), public_key->get()) != 1) {
    return Failed("issuer, validity or key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, KeyCertBundleAccess::SigningCert(bundle), cert.get(),
                 nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_basic_constraints, "critical,CA:FALSE"}}) {
    SslUniquePtr<X509_EXTENSION> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (ext == nullptr || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return Failed(value);
    }
  }
  if (X509_add_ext(cert.get(),
                   const_cast<X509_EXTENSION*>(
                       KeyCertBundleAccess::AuthorityKeyIdExtension(bundle)),
                   -1) != 1) {
    return Failed("authorityKeyIdentifier");
  }
  GENERAL_NAMES* sans = sk_GENERAL_NAME_new_null();
  if (sans == nullptr) return Failed("subjectAltName");
  for (const std::string& name : request.names) {
    SslUniquePtr<GENERAL_NAME> entry = SanEntry(name);
    if (entry == nullptr || sk_GENERAL_NAME_push(sans, entry.get()) == 0) {
      GENERAL_NAMES_free(sans);
      return Failed(absl::StrCat("subjectAltName ", name));
    }
    entry.release();
  }
  const int added = X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans,
                                      /*crit=*/1, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(sans);
  if (added != 1) return Failed("subjectAltName");
  // Ed25519 signs without a separate digest.
  const EVP_MD* md = nullptr;
  switch (bundle.key_type()) {
    case KeyType::kEcP384:
      md = EVP_sha384();
      break;
    case KeyType::kEd25519:
      break;
    default:
      md = EVP_sha256();
  }
  if (X509_sign(cert.get(), KeyCertBundleAccess::SigningKey(bundle), md) <= 0) {
    return Failed("signature");
  }
  SslUniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_X509(out.get(), cert.get()) != 1) {
    return Failed("PEM");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace ca
}  // namespace vaultca
