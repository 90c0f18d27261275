// The one place vaultca uses OpenSSL's deprecated low-level RSA API; see
// rsa_pkcs1_verify.h for the measured reason.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "x509/internal/rsa_pkcs1_verify.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <memory>

namespace vaultca {
namespace x509 {
namespace internal {

#ifdef OPENSSL_NO_DEPRECATED_3_0

bool VerifyRsaPkcs1(absl::string_view, absl::string_view, const EVP_MD*,
                    absl::string_view, absl::string_view) {
  return false;
}

#else

namespace {

struct RsaFree {
  void operator()(RSA* rsa) const { RSA_free(rsa); }
};

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

bool VerifyRsaPkcs1(absl::string_view modulus, absl::string_view exponent,
                    const EVP_MD* md, absl::string_view message,
                    absl::string_view signature) {
  if (md == nullptr || signature.size() != modulus.size()) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, md,
                 nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  std::unique_ptr<RSA, RsaFree> rsa(RSA_new());
  BIGNUM* n = BN_bin2bn(Bytes(modulus), static_cast<int>(modulus.size()),
                        nullptr);
  BIGNUM* e = BN_bin2bn(Bytes(exponent), static_cast<int>(exponent.size()),
                        nullptr);
  if (rsa == nullptr || n == nullptr || e == nullptr ||
      RSA_set0_key(rsa.get(), n, e, nullptr) != 1) {
    BN_free(n);
    BN_free(e);
    ERR_clear_error();
    return false;
  }
  const int verified = RSA_verify(
      EVP_MD_get_type(md), digest, digest_len, Bytes(signature),
      static_cast<unsigned int>(signature.size()), rsa.get());
  ERR_clear_error();
  return verified == 1;
}

#endif  // OPENSSL_NO_DEPRECATED_3_0

}  // namespace internal
}  // namespace x509
}  // namespace vaultca
