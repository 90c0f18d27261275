// Fuzzes the OpenID Connect discovery document parser: the JSON an issuer
// serves at /.well-known/openid-configuration, from which the JWKS URL is
// taken. Whatever it returns must be an https URL.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "server/auth/internal/jwks_fetch.h"

namespace vaultca {
namespace fuzzing {

// The issuer the seed documents were fetched for.
constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds = {
      // The shape Kubernetes' API server and common issuers serve.
      R"({"issuer":"https://kubernetes.default.svc.cluster.local",)"
      R"("jwks_uri":"https://10.0.0.1:443/openid/v1/jwks",)"
      R"("response_types_supported":["id_token"],)"
      R"("subject_types_supported":["public"],)"
      R"("id_token_signing_alg_values_supported":["RS256"]})",
      R"({"jwks_uri":"http://issuer.example/keys"})",
      R"({"jwks_uri":["https://a"]})",
      R"({"jwks_uri":null,"jwks_uri":"https://b"})",
      R"(["jwks_uri","https://c"])",
      "{\"jwks_uri\":\"https://\\u0000\"}",
  };
  Check(server::internal::ParseDiscoveryJwksUri(seeds[0], kIssuer).ok(),
        "the seed discovery document parses");
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view doc(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> uri =
      ::vaultca::server::internal::ParseDiscoveryJwksUri(
          doc, ::vaultca::fuzzing::kIssuer);
  if (uri.ok()) {
    ::vaultca::fuzzing::Check(absl::StartsWith(*uri, "https://"),
                              "a discovered JWKS URL is https");
  }
  return 0;
}
