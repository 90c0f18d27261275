#include "vault/testing/test_jwt.h"

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace vault {
namespace testing {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

struct TestJwtSigner::Key {
  SslUniquePtr<EVP_PKEY> pkey;
};

TestJwtSigner::TestJwtSigner(std::unique_ptr<Key> key, std::string public_pem)
    : key_(std::move(key)), public_pem_(std::move(public_pem)) {}
TestJwtSigner::~TestJwtSigner() = default;

std::string Base64Url(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // No padding.
  return out;
}

absl::StatusOr<std::unique_ptr<TestJwtSigner>> TestJwtSigner::Create() {
  auto key = std::make_unique<Key>();
  key->pkey.reset(EVP_RSA_gen(2048));
  if (key->pkey == nullptr) {
    return SslError(absl::StatusCode::kInternal, "RSA key generation");
  }
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key->pkey.get()) != 1) {
    return SslError(absl::StatusCode::kInternal, "PEM-encoding public key");
  }
  char* data;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(len));
  return std::unique_ptr<TestJwtSigner>(
      new TestJwtSigner(std::move(key), std::move(pem)));
}

absl::StatusOr<std::string> TestJwtSigner::Sign(
    absl::string_view claims_json) const {
  const std::string signing_input =
      absl::StrCat(Base64Url(R"({"alg":"RS256","typ":"JWT"})"), ".",
                   Base64Url(claims_json));
  SslUniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return SslError(absl::StatusCode::kInternal, "JWT signing");
  }
  std::vector<unsigned char> sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return SslError(absl::StatusCode::kInternal, "JWT signing");
  }
  return absl::StrCat(
      signing_input, ".",
      Base64Url(absl::string_view(reinterpret_cast<const char*>(sig.data()),
                                  sig_len)));
}

std::string ServiceAccountClaims(absl::string_view ns, absl::string_view sa,
                                 absl::string_view aud) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  return absl::StrCat(
      R"({"iss":"https://kubernetes.default.svc.cluster.local","sub":"system:serviceaccount:)",
      ns, ":", sa, R"(","aud":[")", aud, R"("],"iat":)", now - 60,
      R"(,"nbf":)", now - 60, R"(,"exp":)", now + 3600,
      R"(,"kubernetes.io":{"namespace":")", ns,
      R"(","serviceaccount":{"name":")", sa,
      R"(","uid":"11111111-2222-3333-4444-555555555555"}},)",
      R"("kubernetes.io/serviceaccount/namespace":")", ns,
      R"(","kubernetes.io/serviceaccount/service-account.name":")", sa,
      R"(","kubernetes.io/serviceaccount/service-account.uid":"11111111-2222-3333-4444-555555555555"})");
}

}  // namespace testing
}  // namespace vault
}  // namespace vaultca
