#include "x509/internal/csr_signature.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "x509/internal/ecdsa_verify.h"
#include "x509/internal/rsa_pkcs1_verify.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace x509 {
namespace internal {
namespace {

using ::vaultca::internal::ClearSslErrors;
using ::vaultca::internal::SslUniquePtr;

enum class SigFamily { kRsa, kEcdsa, kEd25519 };

struct SignatureAlgorithm {
  absl::string_view oid;  // contents
  const char* name;
  SigFamily family;
  // Digest name; nullptr for Ed25519 (no pre-hash) and for refused
  // algorithms (with `refusal` set).
  const char* digest;
  const char* refusal;
};

#define RSA_OID(last) \
  absl::string_view("\x2a\x86\x48\x86\xf7\x0d\x01\x01" last, 9)
#define ECDSA_OID(last) \
  absl::string_view("\x2a\x86\x48\xce\x3d\x04\x03" last, 8)

constexpr const char kSha1Refusal[] =
    "SHA-1 signatures are not accepted; sign the CSR with SHA-256";

const SignatureAlgorithm kAlgorithms[] = {
    {RSA_OID("\x0b"), "sha256WithRSAEncryption", SigFamily::kRsa, "SHA256",
     nullptr},
    {RSA_OID("\x0c"), "sha384WithRSAEncryption", SigFamily::kRsa, "SHA384",
     nullptr},
    {RSA_OID("\x0d"), "sha512WithRSAEncryption", SigFamily::kRsa, "SHA512",
     nullptr},
    {ECDSA_OID("\x02"), "ecdsa-with-SHA256", SigFamily::kEcdsa, "SHA256",
     nullptr},
    {ECDSA_OID("\x03"), "ecdsa-with-SHA384", SigFamily::kEcdsa, "SHA384",
     nullptr},
    {ECDSA_OID("\x04"), "ecdsa-with-SHA512", SigFamily::kEcdsa, "SHA512",
     nullptr},
    {absl::string_view("\x2b\x65\x70", 3), "Ed25519", SigFamily::kEd25519,
     nullptr, nullptr},
    {RSA_OID("\x05"), "sha1WithRSAEncryption", SigFamily::kRsa, nullptr,
     kSha1Refusal},
    {absl::string_view("\x2a\x86\x48\xce\x3d\x04\x01", 7), "ecdsa-with-SHA1",
     SigFamily::kEcdsa, nullptr, kSha1Refusal},
    {RSA_OID("\x0a"), "RSASSA-PSS", SigFamily::kRsa, nullptr,
     "RSASSA-PSS is not supported; sign the CSR with PKCS#1 v1.5 "
     "(sha256WithRSAEncryption)"},
};

#undef RSA_OID
#undef ECDSA_OID

SigFamily FamilyOf(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return SigFamily::kRsa;
    case KeyType::kEcP256:
    case KeyType::kEcP384:
      return SigFamily::kEcdsa;
    case KeyType::kEd25519:
      return SigFamily::kEd25519;
  }
  return SigFamily::kRsa;
}

const char* FamilyName(SigFamily family) {
  switch (family) {
    case SigFamily::kRsa:
      return "RSA";
    case SigFamily::kEcdsa:
      return "EC";
    case SigFamily::kEd25519:
      return "Ed25519";
  }
  return "?";
}

// Fetched once: handing EVP_DigestVerifyInit an EVP_MD spares it a fetch by
// name on every call.
const EVP_MD* FetchedDigest(const char* name) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  if (name == nullptr) return nullptr;
  const absl::string_view n(name);
  if (n == "SHA256") return sha256;
  if (n == "SHA384") return sha384;
  if (n == "SHA512") return sha512;
  return nullptr;
}

constexpr char kDoesNotVerify[] =
    "does not verify with the CSR's own public key: the CSR was altered or "
    "signed with another key";

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("CSR signature ", what));
}

}  // namespace

absl::Status VerifyCsrSignature(const CsrParts& parts, const CsrKey& key) {
  const SignatureAlgorithm* algorithm = nullptr;
  for (const SignatureAlgorithm& candidate : kAlgorithms) {
    if (candidate.oid == parts.signature_algorithm) {
      algorithm = &candidate;
      break;
    }
  }
  if (algorithm == nullptr) {
    return Bad("algorithm is not supported; sign the CSR with SHA-256 "
               "(RSA PKCS#1 v1.5 or ECDSA)");
  }
  if (algorithm->refusal != nullptr) {
    return Bad(absl::StrCat("algorithm ", algorithm->name, " is refused: ",
                            algorithm->refusal));
  }
  // RSA PKCS#1 v1.5 identifiers carry NULL (or, from old encoders,
  // nothing); ECDSA and Ed25519 identifiers carry nothing.
  const bool parameters_ok =
      parts.signature_parameters.empty() ||
      (algorithm->family == SigFamily::kRsa &&
       parts.signature_parameters == absl::string_view("\x05\x00", 2));
  if (!parameters_ok) {
    return Bad(absl::StrCat("algorithm ", algorithm->name,
                            " has unexpected parameters"));
  }
  if (algorithm->family != FamilyOf(key.type)) {
    return Bad(absl::StrCat("algorithm ", algorithm->name,
                            " does not match the CSR's ",
                            FamilyName(FamilyOf(key.type)), " key"));
  }

  const EVP_MD* digest = FetchedDigest(algorithm->digest);
  if (algorithm->digest != nullptr && digest == nullptr) {
    return ::vaultca::internal::SslError(
        absl::StatusCode::kInternal,
        absl::StrCat("fetching digest ", algorithm->digest));
  }
  if (key.pkey == nullptr && key.type == KeyType::kRsa) {
    if (!VerifyRsaPkcs1(key.rsa_modulus, key.rsa_exponent, digest,
                        parts.info, parts.signature)) {
      return Bad(kDoesNotVerify);
    }
    return absl::OkStatus();
  }
  if (key.pkey == nullptr && key.ec_key != nullptr) {
    if (!VerifyEcdsa(key.ec_key.get(), digest, parts.info, parts.signature)) {
      return Bad(kDoesNotVerify);
    }
    return absl::OkStatus();
  }
  SslUniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr,
                           key.pkey.get()) != 1) {
    return ::vaultca::internal::SslError(
        absl::StatusCode::kInternal, "setting up CSR signature verification");
  }
  const int verified = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(parts.signature.data()),
      parts.signature.size(),
      reinterpret_cast<const unsigned char*>(parts.info.data()),
      parts.info.size());
  if (verified != 1) {
    ClearSslErrors();
    return Bad(kDoesNotVerify);
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace x509
}  // namespace vaultca
