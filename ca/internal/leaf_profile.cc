#include "ca/internal/leaf_profile.h"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "x509/der.h"
#include "ca/internal/leaf_names.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// TBSCertificate.version: [0] EXPLICIT INTEGER 2 (v3).
constexpr absl::string_view kVersion3("\xa0\x03\x02\x01\x02", 5);

// AlgorithmIdentifier encodings, as Go writes them (NULL parameters for
// RSA PKCS#1 v1.5, none for ECDSA and Ed25519).
constexpr absl::string_view kSha256WithRsa(
    "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 15);
constexpr absl::string_view kEcdsaWithSha256(
    "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 12);
constexpr absl::string_view kEcdsaWithSha384(
    "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x03", 12);
constexpr absl::string_view kEd25519("\x30\x05\x06\x03\x2b\x65\x70", 7);

// keyUsage (critical): BIT STRING digitalSignature | keyEncipherment.
constexpr absl::string_view kKeyUsage(
    "\x30\x0e\x06\x03\x55\x1d\x0f\x01\x01\xff\x04\x04\x03\x02\x05\xa0", 16);
// extKeyUsage: serverAuth, clientAuth.
constexpr absl::string_view kExtKeyUsage(
    "\x30\x1d\x06\x03\x55\x1d\x25\x04\x16\x30\x14"
    "\x06\x08\x2b\x06\x01\x05\x05\x07\x03\x01"
    "\x06\x08\x2b\x06\x01\x05\x05\x07\x03\x02",
    31);
// basicConstraints (critical): empty SEQUENCE, i.e. CA:FALSE.
constexpr absl::string_view kBasicConstraints(
    "\x30\x0c\x06\x03\x55\x1d\x13\x01\x01\xff\x04\x02\x30\x00", 14);
constexpr absl::string_view kAuthorityKeyIdOid("\x06\x03\x55\x1d\x23", 5);

// Appends authorityKeyIdentifier { [0] keyIdentifier } (non-critical).
void AppendAuthorityKeyId(absl::string_view key_id, std::string* out) {
  std::string aki;
  x509::AppendDer(0x80, key_id, &aki);
  std::string sequence;
  x509::AppendDer(x509::kDerSequence, aki, &sequence);
  std::string extension(kAuthorityKeyIdOid);
  x509::AppendDer(x509::kDerOctetString, sequence, &extension);
  x509::AppendDer(x509::kDerSequence, extension, out);
}

void AppendTwoDigits(int value, std::string* out) {
  out->push_back(static_cast<char>('0' + value / 10 % 10));
  out->push_back(static_cast<char>('0' + value % 10));
}

// Appends a serial: 16 random bytes as a positive, minimal INTEGER, i.e.
// uniform in [0, 2^128) like Istio's genSerialNum.
absl::Status AppendSerial(std::string* out) {
  unsigned char random[16];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "drawing a random certificate serial");
  }
  size_t skip = 0;
  while (skip + 1 < sizeof(random) && random[skip] == 0) ++skip;
  const bool pad = (random[skip] & 0x80) != 0;
  x509::AppendDerHeader(x509::kDerInteger, sizeof(random) - skip + (pad ? 1 : 0), out);
  if (pad) out->push_back('\0');
  out->append(reinterpret_cast<char*>(random) + skip, sizeof(random) - skip);
  return absl::OkStatus();
}

}  // namespace

std::string DerTime(absl::Time t) {
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const bool utc_time = c.year() >= 1950 && c.year() < 2050;
  std::string digits;
  digits.reserve(15);
  if (!utc_time) AppendTwoDigits(static_cast<int>(c.year() / 100), &digits);
  AppendTwoDigits(static_cast<int>(c.year() % 100), &digits);
  AppendTwoDigits(c.month(), &digits);
  AppendTwoDigits(c.day(), &digits);
  AppendTwoDigits(c.hour(), &digits);
  AppendTwoDigits(c.minute(), &digits);
  AppendTwoDigits(c.second(), &digits);
  digits.push_back('Z');
  std::string element;
  x509::AppendDer(utc_time ? x509::kDerUtcTime : x509::kDerGeneralizedTime, digits, &element);
  return element;
}

absl::StatusOr<std::unique_ptr<LeafSigner>> LeafSigner::Create(
    X509* issuer, EVP_PKEY* key, KeyType key_type) {
  std::unique_ptr<LeafSigner> signer(new LeafSigner);
  const char* digest = nullptr;
  switch (key_type) {
    case KeyType::kRsa:
      signer->signature_algorithm_ = std::string(kSha256WithRsa);
      digest = "SHA256";
      break;
    case KeyType::kEcP256:
      signer->signature_algorithm_ = std::string(kEcdsaWithSha256);
      digest = "SHA256";
      break;
    case KeyType::kEcP384:
      signer->signature_algorithm_ = std::string(kEcdsaWithSha384);
      digest = "SHA384";
      break;
    case KeyType::kEd25519:
      signer->signature_algorithm_ = std::string(kEd25519);
      break;
  }

  if (EVP_PKEY_up_ref(key) != 1) {
    return SslError(absl::StatusCode::kInternal, "referencing the CA key");
  }
  signer->key_.reset(key);
  const int max_size = EVP_PKEY_get_size(key);
  if (max_size <= 0) {
    return SslError(absl::StatusCode::kInternal, "sizing CA signatures");
  }
  signer->max_signature_size_ = static_cast<size_t>(max_size);
  if (key_type != KeyType::kEd25519) {
    signer->sign_template_.reset(EVP_MD_CTX_new());
    if (signer->sign_template_ == nullptr ||
        EVP_DigestSignInit_ex(signer->sign_template_.get(), nullptr, digest,
                              nullptr, nullptr, key, nullptr) != 1) {
      return SslError(absl::StatusCode::kInternal,
                      absl::StrCat("preparing ", KeyTypeName(key_type),
                                   " signatures with the CA key"));
    }
  }

  unsigned char* name = nullptr;
  const int name_len = i2d_X509_NAME(X509_get_subject_name(issuer), &name);
  if (name_len <= 0) {
    return SslError(absl::StatusCode::kInternal,
                    "encoding the CA certificate's subject");
  }
  signer->issuer_.assign(reinterpret_cast<char*>(name), name_len);
  OPENSSL_free(name);

  signer->fixed_extensions_ =
      absl::StrCat(kKeyUsage, kExtKeyUsage, kBasicConstraints);
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer);
  if (ski != nullptr) {
    AppendAuthorityKeyId(
        absl::string_view(
            reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
            ASN1_STRING_length(ski)),
        &signer->fixed_extensions_);
  }
  ::vaultca::internal::ClearSslErrors();
  return signer;
}

absl::StatusOr<std::string> LeafSigner::SignDer(
    const LeafRequest& request) const {
  // TBSCertificate contents.
  std::string body;
  body.reserve(512 + issuer_.size() + request.public_key_der.size());
  body.append(kVersion3.data(), kVersion3.size());
  absl::Status status = AppendSerial(&body);
  if (!status.ok()) return status;
  body.append(signature_algorithm_);
  body.append(issuer_);
  const std::string not_before = DerTime(request.not_before);
  const std::string not_after = DerTime(request.not_after);
  x509::AppendDerHeader(x509::kDerSequence, not_before.size() + not_after.size(), &body);
  body.append(not_before);
  body.append(not_after);
  AppendSubjectName(request.dual_use_common_name
                        ? DualUseCommonName(*request.identities)
                        : absl::string_view(),
                    &body);
  body.append(request.public_key_der.data(), request.public_key_der.size());
  std::string extensions(fixed_extensions_);
  AppendSubjectAltNameExtension(*request.identities, &extensions);
  x509::AppendDerHeader(x509::kDerContext3Constructed,
                  x509::DerHeaderSize(extensions.size()) + extensions.size(), &body);
  x509::AppendDer(x509::kDerSequence, extensions, &body);

  std::string tbs;
  tbs.reserve(body.size() + 4);
  x509::AppendDer(x509::kDerSequence, body, &tbs);

  SslUniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  const bool ready =
      ctx != nullptr &&
      (sign_template_ != nullptr
           ? EVP_MD_CTX_copy_ex(ctx.get(), sign_template_.get()) == 1
           : EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr,
                                   nullptr, key_.get(), nullptr) == 1);
  // BIT STRING contents: the unused-bits byte, then the signature.
  std::string signature(1 + max_signature_size_, '\0');
  size_t signature_len = max_signature_size_;
  if (!ready ||
      EVP_DigestSign(ctx.get(),
                     reinterpret_cast<unsigned char*>(&signature[1]),
                     &signature_len,
                     reinterpret_cast<const unsigned char*>(tbs.data()),
                     tbs.size()) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "signing the workload certificate");
  }
  signature.resize(1 + signature_len);

  const size_t signature_element =
      x509::DerHeaderSize(signature.size()) + signature.size();
  std::string certificate;
  certificate.reserve(tbs.size() + signature_algorithm_.size() +
                      signature_element + 8);
  x509::AppendDerHeader(x509::kDerSequence,
                  tbs.size() + signature_algorithm_.size() + signature_element,
                  &certificate);
  certificate.append(tbs);
  certificate.append(signature_algorithm_);
  x509::AppendDer(x509::kDerBitString, signature, &certificate);
  return certificate;
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
