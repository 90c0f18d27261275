#include "x509/key_util.h"

#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::SslError;

absl::StatusOr<SslUniquePtr<EVP_PKEY>> GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kRsa:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyType::kEcP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kEcP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (key == nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat("cannot generate a ", KeyTypeName(type),
                                 " key"));
  }
  return SslUniquePtr<EVP_PKEY>(key);
}

absl::StatusOr<KeyType> ClassifyKey(const EVP_PKEY* key,
                                    absl::string_view what) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key);
      if (bits < 2048) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": RSA key of ", bits,
                         " bits is too weak; use at least 2048 bits"));
      }
      return KeyType::kRsa;
    }
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) {
        return SslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat(what, ": EC key without a named curve; "
                                           "use P-256 or P-384"));
      }
      int nid = OBJ_sn2nid(group);
      if (nid == NID_X9_62_prime256v1) return KeyType::kEcP256;
      if (nid == NID_secp384r1) return KeyType::kEcP384;
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": unsupported EC curve ", group,
                       "; use P-256 or P-384"));
    }
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": unsupported key algorithm ",
          OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
          "; use RSA (2048+ bits), EC P-256, EC P-384 or Ed25519"));
  }
}

const char* SignatureDigestName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
    case KeyType::kEcP256:
      return "SHA256";
    case KeyType::kEcP384:
      return "SHA384";
    case KeyType::kEd25519:
      return nullptr;
  }
  return nullptr;
}

absl::StatusOr<SslUniquePtr<EVP_MD>> FetchSignatureDigest(KeyType type) {
  const char* name = SignatureDigestName(type);
  if (name == nullptr) return SslUniquePtr<EVP_MD>();
  SslUniquePtr<EVP_MD> md(EVP_MD_fetch(nullptr, name, nullptr));
  if (md == nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat("cannot fetch digest ", name));
  }
  return md;
}

}  // namespace x509
}  // namespace vaultca
