#ifndef VAULTCA_SERVER_HTTP_ENDPOINTS_H_
#define VAULTCA_SERVER_HTTP_ENDPOINTS_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace vaultca {
namespace server {

struct HttpHandlers {
  // GET /ready: 200 "ok" when OK, else 503 with the status message.
  std::function<absl::Status()> ready;
  // GET /live: 200 "ok" when OK, else 503.
  std::function<absl::Status()> live;
  // GET /metrics: 200 with this text (Prometheus format 0.0.4).
  std::function<std::string()> metrics;
};

// The plain-HTTP operations port: /ready, /live and /metrics, served by
// cpp-httplib on its own threads. Handlers run concurrently.
class HttpEndpoints {
 public:
  // Binds `address` ("host:port"; port 0 picks a free one) and starts
  // serving. InvalidArgument for a malformed address, Unavailable when
  // the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpEndpoints>> Start(
      const std::string& address, HttpHandlers handlers);
  // Stops and joins.
  ~HttpEndpoints();

  int port() const { return port_; }

 private:
  HttpEndpoints(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::thread thread_;
};

// Splits "host:port" / "[v6]:port"; InvalidArgument when malformed.
absl::Status SplitHostPort(const std::string& address, std::string* host,
                           int* port);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_HTTP_ENDPOINTS_H_
