#ifndef VAULTCA_CLI_CA_PROBE_H_
#define VAULTCA_CLI_CA_PROBE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/secret_data.h"

namespace vaultca {
namespace cli {

// One CreateCertificate call to a running Istio CA (vaultca-server or
// istiod), shaped as istio-agent sends it.
struct ProbeOptions {
  // host:port of the IstioCertificateService (istiod: 15012).
  std::string address;
  bool plaintext = false;
  // PEM roots the server's TLS certificate must verify against.
  std::string root_pem;
  // Name the server certificate must carry (istio-agent checks
  // istiod.istio-system.svc).
  std::string server_name = "istiod.istio-system.svc";
  // Sent as "authorization: Bearer"; empty: none.
  SecretData token;
  std::string cluster_id = "Kubernetes";
  // The CSR's SAN; the server decides the certificate's identity itself.
  std::string identity;
  absl::Duration deadline = absl::Seconds(10);
};

struct ProbeResult {
  // IstioCertificateResponse.cert_chain: leaf first, root last.
  std::vector<std::string> cert_chain;
  // The key the CSR was made with.
  SecretData key_pem;
};

// Sends one request with a fresh EC P-256 CSR. The gRPC status maps to
// the absl code of the same number, with the server's message.
absl::StatusOr<ProbeResult> ProbeCa(const ProbeOptions& options);

// The SPIFFE identity a Kubernetes service-account JWT stands for
// ("spiffe://<trust_domain>/ns/<ns>/sa/<sa>", from its "sub" claim), or
// InvalidArgument when the token is not one. The signature is not checked:
// this only shapes the test CSR.
absl::StatusOr<std::string> IdentityOfToken(absl::string_view jwt,
                                            absl::string_view trust_domain);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_CA_PROBE_H_
