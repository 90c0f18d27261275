#include "testing/test_jwt.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/internal/ssl_unique_ptr.h"
#include "nlohmann/json.hpp"
#include "testing/test_pki.h"

namespace vaultca {
namespace testkit {
namespace {

using ::vaultca::internal::SslUniquePtr;
using Json = nlohmann::json;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "test_jwt: %s failed\n", what);
  std::abort();
}

SslUniquePtr<EVP_PKEY> LoadKey(const TestJwtKey& key) {
  const ca::KeyType type =
      key.alg == "ES256" ? ca::KeyType::kEcP256 : ca::KeyType::kRsa;
  const SecretData& pem = CachedKeyPem(type, key.slot);
  SslUniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  SslUniquePtr<EVP_PKEY> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) Die("PEM_read_bio_PrivateKey");
  return pkey;
}

std::string B64(absl::string_view bytes) {
  return absl::WebSafeBase64Escape(bytes);
}

std::string BnBytes(EVP_PKEY* key, const char* param) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) Die("get_bn_param");
  SslUniquePtr<BIGNUM> owned(bn);
  std::string out(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

std::string JwksJson(const std::vector<TestJwtKey>& keys) {
  Json out = {{"keys", Json::array()}};
  for (const TestJwtKey& key : keys) {
    SslUniquePtr<EVP_PKEY> pkey = LoadKey(key);
    Json jwk;
    if (key.alg == "ES256") {
      unsigned char point[65];
      size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(
              pkey.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
              sizeof(point), &len) != 1 ||
          len != 65) {
        Die("EC public point");
      }
      const std::string raw(reinterpret_cast<char*>(point), len);
      jwk = {{"kty", "EC"},          {"crv", "P-256"},
             {"x", B64(raw.substr(1, 32))}, {"y", B64(raw.substr(33, 32))},
             {"alg", "ES256"},       {"use", "sig"}};
    } else {
      jwk = {{"kty", "RSA"},
             {"n", B64(BnBytes(pkey.get(), OSSL_PKEY_PARAM_RSA_N))},
             {"e", B64(BnBytes(pkey.get(), OSSL_PKEY_PARAM_RSA_E))},
             {"alg", "RS256"},
             {"use", "sig"}};
    }
    if (!key.kid.empty()) jwk["kid"] = key.kid;
    out["keys"].push_back(jwk);
  }
  return out.dump();
}

std::string PublicKeyPem(const TestJwtKey& key) {
  SslUniquePtr<EVP_PKEY> pkey = LoadKey(key);
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    Die("PEM_write_bio_PUBKEY");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string SignJwt(const TestJwtKey& key, const std::string& claims_json,
                    const std::string& header_alg) {
  Json header = {{"alg", header_alg.empty() ? key.alg : header_alg},
                 {"typ", "JWT"}};
  if (!key.kid.empty()) header["kid"] = key.kid;
  const std::string input =
      absl::StrCat(B64(header.dump()), ".", B64(claims_json));
  SslUniquePtr<EVP_PKEY> pkey = LoadKey(key);
  SslUniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    Die("EVP_DigestSign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    Die("EVP_DigestSign");
  }
  sig.resize(len);
  if (key.alg == "ES256") {
    // DER ECDSA-Sig-Value -> JWS r||s, each left-padded to 32 bytes.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    SslUniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, sig.size()));
    if (es == nullptr) Die("d2i_ECDSA_SIG");
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()),
                 reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()),
                 reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    sig = raw;
  }
  return absl::StrCat(input, ".", B64(sig));
}

std::string SaClaimsJson(const SaClaims& c) {
  const int64_t iat = absl::ToUnixSeconds(c.issued_at);
  Json claims = {
      {"iss", c.issuer},
      {"aud", c.audiences},
      {"iat", iat},
      {"nbf", iat},
      {"exp", absl::ToUnixSeconds(c.issued_at + c.lifetime)},
      {"sub", c.subject.empty()
                  ? absl::StrCat("system:serviceaccount:", c.kube_namespace,
                                 ":", c.service_account)
                  : c.subject}};
  if (c.kubernetes_claim) {
    Json kube = {{"namespace", c.kube_namespace},
                 {"serviceaccount",
                  {{"name", c.service_account}, {"uid", c.service_account_uid}}}};
    if (!c.pod_name.empty()) {
      kube["pod"] = {{"name", c.pod_name}, {"uid", c.pod_uid}};
    }
    claims["kubernetes.io"] = kube;
  }
  if (c.legacy_claims) {
    claims["kubernetes.io/serviceaccount/namespace"] = c.kube_namespace;
    claims["kubernetes.io/serviceaccount/service-account.name"] =
        c.service_account;
    claims["kubernetes.io/serviceaccount/service-account.uid"] =
        c.service_account_uid;
  }
  return claims.dump();
}

std::string ServiceAccountClaims(absl::string_view ns, absl::string_view sa,
                                 absl::string_view aud) {
  SaClaims claims;
  claims.audiences = {std::string(aud)};
  claims.kube_namespace = std::string(ns);
  claims.service_account = std::string(sa);
  claims.service_account_uid = "11111111-2222-3333-4444-555555555555";
  claims.pod_name.clear();
  claims.issued_at = absl::Now() - absl::Minutes(1);
  claims.lifetime = absl::Minutes(61);
  claims.legacy_claims = true;
  return SaClaimsJson(claims);
}

}  // namespace testkit
}  // namespace vaultca
