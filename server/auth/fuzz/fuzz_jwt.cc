#include "server/auth/fuzz/fuzz_jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/testing/fuzz_support.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace server {
namespace fuzzing {
namespace {

using ::vaultca::fuzzing::Check;
using ::vaultca::internal::SslUniquePtr;

struct FixedKey {
  EVP_PKEY* key = nullptr;
  std::string x, y;  // Affine coordinates, 32 bytes each.
};

const FixedKey& Key() {
  static const FixedKey* key = [] {
    auto* k = new FixedKey;
    unsigned char scalar[SHA256_DIGEST_LENGTH];
    const char kLabel[] = "vaultca fuzz ES256 key";
    SHA256(reinterpret_cast<const unsigned char*>(kLabel), sizeof(kLabel) - 1,
           scalar);
    // ssl_unique_ptr.h has no EC_GROUP/EC_POINT deleters (vaultca itself
    // never needs them).
    std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(
        EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), &EC_GROUP_free);
    SslUniquePtr<BIGNUM> priv(BN_bin2bn(scalar, sizeof(scalar), nullptr));
    Check(group != nullptr && priv != nullptr, "P-256 setup");
    std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> pub(
        EC_POINT_new(group.get()), &EC_POINT_free);
    unsigned char point[65];
    Check(pub != nullptr &&
              EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr,
                           nullptr, nullptr) == 1 &&
              EC_POINT_point2oct(group.get(), pub.get(),
                                 POINT_CONVERSION_UNCOMPRESSED, point,
                                 sizeof(point), nullptr) == sizeof(point),
          "P-256 public point");
    k->x.assign(reinterpret_cast<char*>(point + 1), 32);
    k->y.assign(reinterpret_cast<char*>(point + 33), 32);

    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    Check(bld != nullptr &&
              OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                              "prime256v1", 0) == 1 &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY,
                                     priv.get()) == 1 &&
              OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                               point, sizeof(point)) == 1,
          "P-256 key parameters");
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    OSSL_PARAM_BLD_free(bld);
    SslUniquePtr<EVP_PKEY_CTX> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    Check(params != nullptr && ctx != nullptr &&
              EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
              EVP_PKEY_fromdata(ctx.get(), &k->key, EVP_PKEY_KEYPAIR,
                                params) == 1,
          "P-256 key from data");
    OSSL_PARAM_free(params);
    return k;
  }();
  return *key;
}

std::string B64(absl::string_view bytes) {
  return absl::WebSafeBase64Escape(bytes);  // Unpadded, as JOSE wants.
}

}  // namespace

EVP_PKEY* FuzzJwtKey() { return Key().key; }

std::string FuzzJwksJson() {
  return absl::StrCat(
      R"({"keys":[{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256",)",
      R"("kid":")", kFuzzKid, R"(","x":")", B64(Key().x), R"(","y":")",
      B64(Key().y), R"("}]})");
}

std::string SignFuzzJwt(absl::string_view header_json,
                        absl::string_view claims_json) {
  const std::string input =
      absl::StrCat(B64(header_json), ".", B64(claims_json));
  SslUniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t der_len = 0;
  Check(ctx != nullptr &&
            EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                               Key().key) == 1 &&
            EVP_DigestSign(ctx.get(), nullptr, &der_len,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1,
        "ES256 sign setup");
  std::string der(der_len, '\0');
  Check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()),
                       &der_len,
                       reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1,
        "ES256 sign");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  SslUniquePtr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, der_len));
  Check(sig != nullptr, "ECDSA signature decode");
  unsigned char raw[64];
  Check(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + 32, 32) == 32,
        "ECDSA r||s");
  return absl::StrCat(input, ".",
                      B64(absl::string_view(reinterpret_cast<char*>(raw), 64)));
}

std::string FuzzSaToken(absl::string_view kube_namespace,
                        absl::string_view service_account) {
  testkit::SaClaims claims;
  claims.issuer = kFuzzIssuer;
  claims.kube_namespace = std::string(kube_namespace);
  claims.service_account = std::string(service_account);
  claims.pod_name = absl::StrCat(service_account, "-1");
  claims.issued_at = FuzzNow();
  return SignFuzzJwt(
      absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":")", kFuzzKid, R"("})"),
      testkit::SaClaimsJson(claims));
}

}  // namespace fuzzing
}  // namespace server
}  // namespace vaultca
