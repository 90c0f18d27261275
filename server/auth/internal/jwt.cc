#include "server/auth/internal/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using ::vaultca::internal::SslUniquePtr;
using Json = nlohmann::json;

absl::Status Malformed(absl::string_view what) {
  return absl::UnauthenticatedError(
      absl::StrCat("bearer token is not a valid JWT: ", what));
}

bool DecodePart(absl::string_view part, std::string* out) {
  // JWS uses unpadded base64url; a padded or standard-alphabet part is a
  // different token and is refused.
  if (part.empty() || part.find_first_of("=+/") != absl::string_view::npos) {
    return false;
  }
  return absl::WebSafeBase64Unescape(part, out);
}

// Converts the JWS r||s form to the DER ECDSA-Sig-Value OpenSSL verifies.
absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw) {
  if (raw.size() != 64) {
    return absl::UnauthenticatedError(
        "ES256 signature must be 64 bytes (r||s)");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  SslUniquePtr<BIGNUM> r(BN_bin2bn(bytes, 32, nullptr));
  SslUniquePtr<BIGNUM> s(BN_bin2bn(bytes + 32, 32, nullptr));
  SslUniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return ::vaultca::internal::SslError(absl::StatusCode::kInternal,
                                         "cannot build an ECDSA signature");
  }
  r.release();
  s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) {
    return ::vaultca::internal::SslError(absl::StatusCode::kInternal,
                                         "cannot encode an ECDSA signature");
  }
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

absl::StatusOr<DecodedJwt> DecodeJwt(absl::string_view token) {
  if (token.size() > kMaxJwtBytes) {
    return Malformed(absl::StrCat("larger than ", kMaxJwtBytes, " bytes"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return Malformed("expected three dot-separated parts");
  }
  std::string header_json, payload_json, signature;
  if (!DecodePart(parts[0], &header_json) ||
      !DecodePart(parts[1], &payload_json) ||
      !DecodePart(parts[2], &signature)) {
    return Malformed("a part is not unpadded base64url");
  }
  Json header = Json::parse(header_json, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Malformed("the header is not a JSON object");
  }
  if (header.contains("crit")) {
    return Malformed("critical header parameters are not supported");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    return Malformed("the header has no \"alg\"");
  }
  absl::StatusOr<JwsAlgorithm> algorithm =
      ParseJwsAlgorithm(alg->get<std::string>());
  if (!algorithm.ok()) {
    return absl::UnauthenticatedError(algorithm.status().message());
  }
  DecodedJwt jwt;
  jwt.algorithm = *algorithm;
  auto kid = header.find("kid");
  if (kid != header.end()) {
    if (!kid->is_string()) return Malformed("\"kid\" is not a string");
    jwt.kid = kid->get<std::string>();
  }
  jwt.claims = Json::parse(payload_json, nullptr, /*allow_exceptions=*/false);
  if (jwt.claims.is_discarded() || !jwt.claims.is_object()) {
    return Malformed("the claims are not a JSON object");
  }
  jwt.signing_input = absl::StrCat(parts[0], ".", parts[1]);
  jwt.signature = std::move(signature);
  return jwt;
}

absl::Status VerifyJwtSignature(const DecodedJwt& jwt, EVP_PKEY* key) {
  std::string der_signature;
  absl::string_view signature = jwt.signature;
  if (jwt.algorithm == JwsAlgorithm::kEs256) {
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
      return absl::UnauthenticatedError("ES256 token, but the key is not EC");
    }
    absl::StatusOr<std::string> der = EcdsaRawToDer(signature);
    if (!der.ok()) return der.status();
    der_signature = *std::move(der);
    signature = der_signature;
  } else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    return absl::UnauthenticatedError("RS256 token, but the key is not RSA");
  }
  SslUniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) !=
          1) {
    return ::vaultca::internal::SslError(absl::StatusCode::kInternal,
                                         "cannot start JWT verification");
  }
  const int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
      signature.size(),
      reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
      jwt.signing_input.size());
  ::vaultca::internal::ClearSslErrors();
  if (ok != 1) {
    return absl::UnauthenticatedError("JWT signature does not verify");
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
