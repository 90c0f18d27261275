// Fuzzes the server's configuration reader: YAML (or JSON) through
// yaml-cpp and the typed reader (durations, enums, lists, nested keys),
// then the consistency checks.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "server/config.h"

namespace vaultca {
namespace fuzzing {

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds = {
      SourceFile("examples/server/vaultca.yaml"),
      R"({"trust_domain":"example.org","ca":{"source":"vault","vault":)"
      R"({"cert_ref":"vault:secret/data/a#c","key_ref":"vault:secret/data/a#k"},)"
      R"("default_workload_cert_ttl":"1h30m","max_workload_cert_ttl":"2160h0m0s"},)"
      R"("auth":{"jwt":[{"issuer":"https://i","jwks_file":"/j","audiences":["a"]}],)"
      R"("trusted_node_accounts":["istio-system/ztunnel"]}})",
      "ca:\n  source: files\n  cacerts_dir: /etc/cacerts\n"
      "limits:\n  max_concurrent_requests: 10\n  shutdown_grace: 5s\n",
      "anchors: &a {x: 1}\nref: *a\n",
      "auth:\n  token_review:\n    enabled: true\n    cache_ttl: 1m\n"
      "    audiences: [istio-ca, x]\n",
      "listen: {grpc_address: '[::]:15012', plaintext: yes}\n",
      "trust_domain: a\ntrust_domain: b\n",
      "- not\n- a map\n",
  };
  Check(server::ParseServerConfig(seeds[0]).ok(), "the sample config parses");
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace server = ::vaultca::server;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<server::ServerConfig> config = server::ParseServerConfig(text);
  if (config.ok()) {
    (void)server::ValidateServerConfig(*config);
  } else {
    ::vaultca::fuzzing::Check(
        config.status().code() == absl::StatusCode::kInvalidArgument,
        "config failures are InvalidArgument");
  }
  return 0;
}
