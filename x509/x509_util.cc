#include "x509/x509_util.h"

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::SslError;

absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* time) {
  struct tm tm = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "certificate has a malformed validity time");
  }
  return absl::FromCivil(
      absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec),
      absl::UTCTimeZone());
}

absl::Status SetValidity(X509* cert, absl::Time not_before,
                         absl::Time not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) ==
          nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot set a certificate's validity period");
  }
  return absl::OkStatus();
}

absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  SslUniquePtr<BIGNUM> serial;
  do {
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      return SslError(absl::StatusCode::kInternal,
                      "cannot draw random bytes for a serial number");
    }
    serial.reset(BN_bin2bn(bytes, sizeof(bytes), nullptr));
    if (serial == nullptr) break;
  } while (BN_is_zero(serial.get()));  // RFC 5280: serials are positive.
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) ==
          nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot set a certificate serial number");
  }
  return absl::OkStatus();
}

std::string SerialHex(const X509* cert) {
  SslUniquePtr<BIGNUM> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return "";
  std::string out = absl::AsciiStrToLower(hex);
  OPENSSL_free(hex);
  return out;
}

absl::StatusOr<std::string> Sha256FingerprintHex(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot compute a certificate fingerprint");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), len));
}

std::string NameToString(const X509_NAME* name) {
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  SslUniquePtr<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat("cannot add the ", OBJ_nid2sn(nid),
                                 " extension '", value, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SslUniquePtr<ASN1_OCTET_STRING>> ComputeKeyId(
    const EVP_PKEY* key) {
  SslUniquePtr<X509_PUBKEY> pub;
  {
    X509_PUBKEY* raw = nullptr;
    if (X509_PUBKEY_set(&raw, const_cast<EVP_PKEY*>(key)) != 1) {
      return SslError(absl::StatusCode::kInternal,
                      "cannot encode a public key");
    }
    pub.reset(raw);
  }
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, nullptr,
                             pub.get()) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot read an encoded public key");
  }
  unsigned char digest[SHA_DIGEST_LENGTH];
  unsigned int digest_len = 0;
  SslUniquePtr<ASN1_OCTET_STRING> id(ASN1_OCTET_STRING_new());
  if (EVP_Digest(bits, static_cast<size_t>(bits_len), digest, &digest_len,
                 EVP_sha1(), nullptr) != 1 ||
      id == nullptr ||
      ASN1_OCTET_STRING_set(id.get(), digest, static_cast<int>(digest_len)) !=
          1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot compute a key identifier");
  }
  return id;
}

absl::Status SignCertificate(X509* cert, EVP_PKEY* key, const EVP_MD* md) {
  if (X509_sign(cert, key, md) <= 0) {
    return SslError(absl::StatusCode::kInternal, "cannot sign a certificate");
  }
  return absl::OkStatus();
}

}  // namespace x509
}  // namespace vaultca
