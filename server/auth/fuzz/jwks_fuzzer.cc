// Fuzzes JWKS parsing (the issuer's key file): the JSON, RSA moduli and
// exponents, EC points, and key lookup by kid and algorithm.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "server/auth/fuzz/fuzz_jwt.h"
#include "server/auth/internal/jwks.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace fuzzing {

std::vector<std::string> Seeds() {
  namespace st = ::vaultca::testkit;
  std::vector<std::string> seeds = {
      server::fuzzing::FuzzJwksJson(),
      st::JwksJson({{"rsa-1", "RS256", 0}}),
      st::JwksJson({{"", "RS256", 1}, {"ec-1", "ES256", 0}}),
      R"({"keys":[{"kty":"oct","k":"AAAA"},{"kty":"EC","use":"enc"}]})",
      R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"ES256"}]})",
      R"({"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]})",
      R"({"keys":{}})",
  };
  Check(server::internal::Jwks::Parse(seeds[2]).ok(),
        "the seed JWKS parses");
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace si = ::vaultca::server::internal;
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  auto jwks = si::Jwks::Parse(json);
  if (!jwks.ok()) return 0;
  ::vaultca::fuzzing::Check((*jwks)->size() > 0, "a parsed JWKS has keys");
  for (si::JwsAlgorithm alg : {si::JwsAlgorithm::kRs256,
                               si::JwsAlgorithm::kEs256}) {
    for (const si::Jwk* key : (*jwks)->Candidates("", alg)) {
      ::vaultca::fuzzing::Check(key->key != nullptr && key->algorithm == alg,
                                "candidates hold a key of the algorithm");
    }
    (void)(*jwks)->Candidates(json.substr(0, 16), alg);
  }
  return 0;
}
