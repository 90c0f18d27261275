#ifndef VAULTCA_SERVER_TESTING_AGENT_CLIENT_H_
#define VAULTCA_SERVER_TESTING_AGENT_CLIENT_H_

// A client that asks for certificates the way istio-agent does, for tests:
// TLS trusting the published root (server name istiod.istio-system.svc, as
// the agent checks a "localhost" CA_ADDR), "authorization: Bearer <jwt>",
// "clusterid", metadata CertSigner, and an RSA-2048 CSR with an empty O=
// and a critical URI SAN.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace server {
namespace testing {

struct AgentOptions {
  // "127.0.0.1:<port>".
  std::string address;
  bool plaintext = false;
  // PEM roots the agent trusts (istio-ca-root-cert's root-cert.pem).
  std::string root_cert_pem;
  std::string server_name = "istiod.istio-system.svc";
  // Sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  // Sent as "clusterid" when not empty.
  std::string cluster_id = "Kubernetes";
  // metadata CertSigner: istio-agent always sends it, usually empty.
  std::string cert_signer;
  // metadata ImpersonatedIdentity when not empty (ztunnel).
  std::string impersonated_identity;
  // The CSR's URI SANs.
  std::vector<std::string> csr_identities = {
      "spiffe://cluster.local/ns/default/sa/sleep"};
  ca::KeyType key_type = ca::KeyType::kRsa;
  int64_t ttl_seconds = 86400;
  // A client certificate chain and key for mutual TLS (renewal, VMs).
  std::string client_cert_chain_pem;
  SecretData client_key_pem;
  absl::Duration deadline = absl::Seconds(10);
};

struct AgentResult {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  std::vector<std::string> cert_chain;
  // The key the CSR was made with, PKCS#8.
  SecretData key_pem;
  // The server's TLS leaf as seen in the handshake (empty in plain text).
  std::string server_cert_pem;
};

// One agent with one channel; the CSR and key are generated once and
// reused by every Request (key generation is slow). Thread-safe.
class AgentClient {
 public:
  explicit AgentClient(AgentOptions options);
  // One CreateCertificate call.
  AgentResult Request();
  // Overrides the CSR sent (for malformed-CSR tests).
  void set_csr_pem(std::string csr_pem) { csr_pem_ = std::move(csr_pem); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  const AgentOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string csr_pem_;
  SecretData key_pem_;
};

// Calls grpc.health.v1.Health/Check for the whole server (""); returns the
// status enum value (1 = SERVING, 2 = NOT_SERVING) or -1 on RPC failure.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel);

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_TESTING_AGENT_CLIENT_H_
