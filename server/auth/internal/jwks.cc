#include "server/auth/internal/jwks.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/internal/ssl_error.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using ::vaultca::internal::SslUniquePtr;
using Json = nlohmann::json;

// OSSL_PARAM integers are native-endian.
std::string NativeEndian(absl::string_view big_endian) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return std::string(big_endian);
#else
  return std::string(big_endian.rbegin(), big_endian.rend());
#endif
}

absl::Status KeyError(size_t index, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("JWKS key #", index, ": ", what));
}

// Decodes the base64url string member `name` of `jwk`.
absl::StatusOr<std::string> Member(const Json& jwk, const char* name,
                                   size_t index) {
  auto it = jwk.find(name);
  std::string decoded;
  if (it == jwk.end() || !it->is_string() ||
      !absl::WebSafeBase64Unescape(it->get<std::string>(), &decoded) ||
      decoded.empty()) {
    return KeyError(index, absl::StrCat("'", name,
                                        "' must be a non-empty base64url "
                                        "string"));
  }
  return decoded;
}

absl::StatusOr<SslUniquePtr<EVP_PKEY>> FromData(const char* type,
                                                OSSL_PARAM* params,
                                                size_t index) {
  SslUniquePtr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return ::vaultca::internal::SslError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("JWKS key #", index, ": not a valid ", type, " key"));
  }
  SslUniquePtr<EVP_PKEY> owned(key);
  SslUniquePtr<EVP_PKEY_CTX> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, owned.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    return ::vaultca::internal::SslError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("JWKS key #", index, ": ", type,
                     " public key fails its consistency check"));
  }
  return owned;
}

absl::StatusOr<SslUniquePtr<EVP_PKEY>> RsaKey(const Json& jwk, size_t index) {
  absl::StatusOr<std::string> n = Member(jwk, "n", index);
  if (!n.ok()) return n.status();
  absl::StatusOr<std::string> e = Member(jwk, "e", index);
  if (!e.ok()) return e.status();
  size_t leading = n->find_first_not_of('\0');
  if (leading == std::string::npos) return KeyError(index, "'n' is zero");
  const size_t bits = (n->size() - leading) * 8;
  if (bits < 2048 || bits > 8192) {
    return KeyError(index, "RSA modulus must be 2048 to 8192 bits");
  }
  if (e->size() > 8) return KeyError(index, "RSA exponent is too large");
  std::string n_native = NativeEndian(*n);
  std::string e_native = NativeEndian(*e);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_BN(
          OSSL_PKEY_PARAM_RSA_N,
          reinterpret_cast<unsigned char*>(n_native.data()), n_native.size()),
      OSSL_PARAM_construct_BN(
          OSSL_PKEY_PARAM_RSA_E,
          reinterpret_cast<unsigned char*>(e_native.data()), e_native.size()),
      OSSL_PARAM_construct_end()};
  return FromData("RSA", params, index);
}

absl::StatusOr<SslUniquePtr<EVP_PKEY>> EcKey(const Json& jwk, size_t index) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string() || *crv != "P-256") {
    return KeyError(index, "only EC keys on curve P-256 (ES256) are supported");
  }
  absl::StatusOr<std::string> x = Member(jwk, "x", index);
  if (!x.ok()) return x.status();
  absl::StatusOr<std::string> y = Member(jwk, "y", index);
  if (!y.ok()) return y.status();
  if (x->size() != 32 || y->size() != 32) {
    return KeyError(index, "P-256 coordinates must be 32 bytes each");
  }
  std::string point = absl::StrCat("\x04", *x, *y);
  char group[] = "P-256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  return FromData("EC", params, index);
}

}  // namespace

absl::StatusOr<JwsAlgorithm> ParseJwsAlgorithm(absl::string_view name) {
  if (name == "RS256") return JwsAlgorithm::kRs256;
  if (name == "ES256") return JwsAlgorithm::kEs256;
  return absl::InvalidArgumentError(absl::StrCat(
      "signature algorithm '", name.substr(0, 16),
      "' is not accepted; use RS256 or ES256"));
}

namespace {

// One entry of "keys": the key, nullopt for a key that is not for
// signatures (ignored without a word), or the reason it cannot be used.
absl::StatusOr<std::optional<Jwk>> ParseKey(const Json& jwk, size_t i) {
  if (!jwk.is_object()) return KeyError(i, "not a JSON object");
  auto use = jwk.find("use");
  if (use != jwk.end() && (!use->is_string() || *use != "sig")) {
    return std::nullopt;
  }
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    return KeyError(i, "'kty' is missing");
  }
  Jwk key;
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> pkey;
  if (*kty == "RSA") {
    key.algorithm = JwsAlgorithm::kRs256;
    pkey = RsaKey(jwk, i);
  } else if (*kty == "EC") {
    key.algorithm = JwsAlgorithm::kEs256;
    pkey = EcKey(jwk, i);
  } else {
    return KeyError(
        i, absl::StrCat("key type '",
                        absl::CHexEscape(kty->get<std::string>().substr(0, 16)),
                        "' is not supported (RSA, EC P-256)"));
  }
  if (!pkey.ok()) return pkey.status();
  key.key = *std::move(pkey);
  auto alg = jwk.find("alg");
  if (alg != jwk.end()) {
    absl::StatusOr<JwsAlgorithm> parsed =
        alg->is_string() ? ParseJwsAlgorithm(alg->get<std::string>())
                         : absl::InvalidArgumentError("");
    if (!parsed.ok() || *parsed != key.algorithm) {
      return KeyError(i, "'alg' does not match the key type");
    }
  }
  auto kid = jwk.find("kid");
  if (kid != jwk.end()) {
    if (!kid->is_string()) return KeyError(i, "'kid' must be a string");
    key.kid = kid->get<std::string>();
  }
  return std::optional<Jwk>(std::move(key));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Jwks>> Jwks::Parse(
    absl::string_view json) {
  Json doc = Json::parse(json.begin(), json.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("JWKS is not a JSON object");
  }
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    return absl::InvalidArgumentError("JWKS has no \"keys\" array");
  }
  auto jwks = std::shared_ptr<Jwks>(new Jwks());
  // Issuers publish keys for other consumers too (Ed25519, P-384, keys in
  // rotation); one that vaultca cannot use must not cost the others.
  for (size_t i = 0; i < keys->size(); ++i) {
    absl::StatusOr<std::optional<Jwk>> key = ParseKey((*keys)[i], i);
    if (!key.ok()) {
      jwks->skipped_.emplace_back(key.status().message());
    } else if (key->has_value()) {
      jwks->keys_.push_back(**std::move(key));
    }
  }
  if (jwks->keys_.empty()) {
    std::string why;
    if (!jwks->skipped_.empty()) {
      why = absl::StrCat(" (", absl::StrJoin(jwks->skipped_, "; "), ")");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "JWKS holds no RSA or EC P-256 signature key", why));
  }
  return std::shared_ptr<const Jwks>(std::move(jwks));
}

std::vector<const Jwk*> Jwks::Candidates(absl::string_view kid,
                                         JwsAlgorithm algorithm) const {
  std::vector<const Jwk*> out;
  for (const Jwk& key : keys_) {
    if (key.algorithm != algorithm) continue;
    if (!kid.empty() && key.kid != kid) continue;
    out.push_back(&key);
  }
  return out;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
