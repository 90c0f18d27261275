#ifndef VAULTCA_SERVER_INTERNAL_TLS_PROBE_H_
#define VAULTCA_SERVER_INTERNAL_TLS_PROBE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace server {
namespace internal {

// The loopback address that reaches a listener bound to `listen_address`
// ("host:port", "[v6]:port"; a wildcard host becomes 127.0.0.1 or ::1), as
// "host" and port.
struct ProbeTarget {
  std::string host;
  int port = 0;
};
ProbeTarget ProbeTargetFor(absl::string_view listen_address, int port);

// Completes a TLS handshake (ALPN h2, as gRPC clients offer) with the
// listener at `target`, without verifying the peer: OK when the server
// presented a certificate, i.e. has an identity loaded. A gRPC TLS
// listener whose certificate watcher has not read its files yet closes
// every handshake. Unavailable naming what failed otherwise.
absl::Status TlsHandshake(const ProbeTarget& target, absl::Duration timeout);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_TLS_PROBE_H_
