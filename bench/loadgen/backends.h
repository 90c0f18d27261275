#ifndef VAULTCA_BENCH_LOADGEN_BACKENDS_H_
#define VAULTCA_BENCH_LOADGEN_BACKENDS_H_

// What the load generator drives: one interface, three transports (gRPC
// IstioCertificateService, cfssl's HTTP API, raw OpenSSL without RPC), so
// the pacing and measurement code is the same for every peer.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace vaultca {
namespace bench {

struct BackendOptions {
  std::vector<std::string> csrs;  // PEM
  std::string root_pem, root_file;
  std::string client_cert_pem, client_cert_file;
  std::string client_key_pem, client_key_file;
  std::string token;       // grpc: Bearer token, empty: none
  std::string cluster_id;  // grpc: clusterid, empty: none
  std::string address;     // grpc host:port
  std::string server_name;
  std::string url;         // cfssl base URL
  std::string ca_cert_pem, ca_key_pem;  // raw
  absl::Duration deadline = absl::Seconds(30);
  bool agent_retry = false;
  int channels = 1;  // grpc connections
  int workers = 1;   // cfssl / raw threads
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Connects and checks one request per connection succeeds (so handshakes
  // are not in the measurement). False, with a message on stderr, if not.
  virtual bool Prepare() = 0;
  // Sends one request for CSR `csr`; `done` gets the gRPC status code (0 ok;
  // cfssl failures are mapped to the nearest code) on some other thread.
  virtual void Issue(int csr, std::function<void(int code)> done) = 0;
  // One blocking request on a new connection (cold start probing).
  virtual int IssueFresh(int csr) = 0;
};

std::unique_ptr<Backend> NewGrpcBackend(const BackendOptions& options);
std::unique_ptr<Backend> NewCfsslBackend(const BackendOptions& options);
std::unique_ptr<Backend> NewRawBackend(const BackendOptions& options);

}  // namespace bench
}  // namespace vaultca

#endif  // VAULTCA_BENCH_LOADGEN_BACKENDS_H_
