// Fuzzes bearer-token handling: JWS decoding, signature verification and
// the claim checks of JwtAuthenticator. The first byte picks the mode:
//   even: the rest is the token as a client would send it;
//   odd:  the rest is FuzzInput fields <header JSON, claims JSON>, signed
//         here with the fixed fuzz key, so claim handling (exp/nbf/iat
//         numbers, kubernetes.io, sub) is reached past the signature.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secret_data.h"
#include "common/testing/fuzz_input.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "server/auth/fuzz/fuzz_jwt.h"
#include "server/auth/internal/jwt.h"
#include "server/auth/jwt_authenticator.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace server {
namespace fuzzing {
namespace {

using ::vaultca::fuzzing::Check;
using ::vaultca::fuzzing::FuzzInput;
using ::vaultca::fuzzing::FuzzInputWriter;

JwtAuthenticator& Authenticator() {
  static JwtAuthenticator* authenticator = [] {
    const std::string& dir = ::vaultca::fuzzing::ScratchDir();
    ::vaultca::fuzzing::WriteFile(dir, "jwks.json", FuzzJwksJson());
    JwtAuthenticatorOptions options;
    options.issuer = kFuzzIssuer;
    options.jwks_file = dir + "/jwks.json";
    options.clock = [] { return FuzzNow(); };
    auto made = JwtAuthenticator::New(std::move(options));
    Check(made.ok(), "JwtAuthenticator::New with the fuzz JWKS");
    return made->release();
  }();
  return *authenticator;
}

void RunToken(absl::string_view token) {
  absl::StatusOr<internal::DecodedJwt> jwt = internal::DecodeJwt(token);
  if (jwt.ok()) {
    Check(jwt->claims.is_object(), "decoded claims are an object");
    (void)internal::VerifyJwtSignature(*jwt, FuzzJwtKey());
  }
  AuthRequest request;
  request.bearer_token = SecretData(token);
  absl::StatusOr<Caller> caller = Authenticator().Authenticate(request);
  if (caller.ok()) {
    // Only a token that decodes and names an account gets this far.
    Check(jwt.ok(), "authenticated a token DecodeJwt refuses");
    Check(caller->identities.size() == 1 &&
              absl::StartsWith(caller->identities[0],
                               "spiffe://cluster.local/ns/"),
          "identity is a SPIFFE id in the trust domain");
  } else {
    Check(caller.status().code() == absl::StatusCode::kUnauthenticated,
          "token failures are Unauthenticated");
  }
}

std::string HeaderJson(absl::string_view alg = "ES256") {
  return absl::StrCat(R"({"alg":")", alg, R"(","typ":"JWT","kid":")",
                      kFuzzKid, R"("})");
}

std::string SignedMode(absl::string_view header, absl::string_view claims) {
  return "\x01" + FuzzInputWriter().Field(header).Field(claims).data();
}

}  // namespace
}  // namespace fuzzing
}  // namespace server

namespace fuzzing {

std::vector<std::string> Seeds() {
  using namespace ::vaultca::server::fuzzing;  // NOLINT: local seeds only.
  namespace st = ::vaultca::testkit;
  std::vector<std::string> seeds;
  const std::string good = FuzzSaToken("default", "sleep");
  // Proves the seeds reach the end of the happy path: if this stops
  // authenticating, the target silently tests much less.
  {
    server::AuthRequest request;
    request.bearer_token = SecretData(good);
    Check(Authenticator().Authenticate(request).ok(),
          "the seed token authenticates");
  }
  seeds.push_back(std::string("\x00", 1) + good);
  st::SaClaims claims;
  claims.issuer = kFuzzIssuer;
  claims.issued_at = FuzzNow();
  seeds.push_back(SignedMode(HeaderJson(), st::SaClaimsJson(claims)));
  claims.kubernetes_claim = false;
  seeds.push_back(SignedMode(HeaderJson(), st::SaClaimsJson(claims)));
  claims.kubernetes_claim = true;
  claims.subject = "system:serviceaccount:other:sa";
  seeds.push_back(SignedMode(HeaderJson(), st::SaClaimsJson(claims)));
  seeds.push_back(SignedMode(
      HeaderJson(),
      absl::StrCat(R"({"iss":")", kFuzzIssuer,
                   R"(","aud":["x","istio-ca"],"exp":1e300,"nbf":-1e300,)",
                   R"("iat":1700000000.5,"sub":"system:serviceaccount:a:b"})")));
  seeds.push_back(SignedMode(HeaderJson("RS256"), "{}"));
  seeds.push_back(SignedMode(R"({"alg":"ES256","crit":["b64"]})", "{}"));
  seeds.push_back(std::string("\x00", 1) + "e30.e30.e30");
  seeds.push_back(std::string("\x00", 1) + "a.b");
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ::vaultca::server::fuzzing;  // NOLINT
  if (size == 0) return 0;
  ::vaultca::fuzzing::FuzzInput in(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    RunToken(in.Rest());
  } else {
    const std::string header = in.Field();
    const std::string claims = in.Field();
    RunToken(SignFuzzJwt(header, claims));
  }
  return 0;
}
