// With rsa_pkcs1_verify.cc, the one place vaultca uses OpenSSL's deprecated
// low-level API; see ecdsa_verify.h for the measured reason.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "x509/internal/ecdsa_verify.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

namespace vaultca {
namespace x509 {
namespace internal {

#ifdef OPENSSL_NO_DEPRECATED_3_0

void EcKeyFree::operator()(EC_KEY*) const {}

EcKeyPtr EcPublicKey(int, absl::string_view) { return nullptr; }

bool VerifyEcdsa(const EC_KEY*, const EVP_MD*, absl::string_view,
                 absl::string_view) {
  return false;
}

#else

void EcKeyFree::operator()(EC_KEY* key) const { EC_KEY_free(key); }

namespace {

// Built on first use, never freed, shared read-only: EC_KEY_set_group
// copies a group (cheap), building one from its name is not (it sets up
// Montgomery contexts with modular inversions).
const EC_GROUP* Group(int curve_nid) {
  static const EC_GROUP* const p256 =
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  static const EC_GROUP* const p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
  if (curve_nid == NID_X9_62_prime256v1) return p256;
  if (curve_nid == NID_secp384r1) return p384;
  return nullptr;
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

EcKeyPtr EcPublicKey(int curve_nid, absl::string_view point) {
  const EC_GROUP* group = Group(curve_nid);
  EcKeyPtr key(EC_KEY_new());
  // EC_KEY_oct2key refuses points that are not on the curve.
  if (group == nullptr || key == nullptr ||
      EC_KEY_set_group(key.get(), group) != 1 ||
      EC_KEY_oct2key(key.get(), Bytes(point), point.size(), nullptr) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return key;
}

bool VerifyEcdsa(const EC_KEY* key, const EVP_MD* md, absl::string_view message,
                 absl::string_view signature) {
  if (key == nullptr || md == nullptr) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, md,
                 nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  // ECDSA_verify refuses signatures that are not strict DER, as the EVP
  // path does.
  const int verified =
      ECDSA_verify(0, digest, static_cast<int>(digest_len), Bytes(signature),
                   static_cast<int>(signature.size()),
                   const_cast<EC_KEY*>(key));
  ERR_clear_error();
  return verified == 1;
}

#endif  // OPENSSL_NO_DEPRECATED_3_0

}  // namespace internal
}  // namespace x509
}  // namespace vaultca
