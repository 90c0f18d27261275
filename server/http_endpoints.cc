#include "server/http_endpoints.h"

#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"

namespace vaultca {
namespace server {
namespace {

void Probe(const std::function<absl::Status()>& check, httplib::Response& res) {
  absl::Status status = check ? check() : absl::OkStatus();
  if (status.ok()) {
    res.set_content("ok\n", "text/plain");
  } else {
    res.status = 503;
    res.set_content(absl::StrCat(status.message(), "\n"), "text/plain");
  }
}

}  // namespace

absl::Status SplitHostPort(const std::string& address, std::string* host,
                           int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size() ||
      !absl::SimpleAtoi(address.substr(colon + 1), port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "' is not host:port"));
  }
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "0.0.0.0";
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(
    const std::string& address, HttpHandlers handlers) {
  std::string host;
  int port = 0;
  if (absl::Status s = SplitHostPort(address, &host, &port); !s.ok()) {
    return s;
  }
  auto server = std::make_unique<httplib::Server>();
  // Probes and scrapes are light: two threads are plenty.
  server->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server->set_read_timeout(std::chrono::seconds(5));
  server->set_write_timeout(std::chrono::seconds(5));
  server->Get("/ready", [ready = handlers.ready](const httplib::Request&,
                                                 httplib::Response& res) {
    Probe(ready, res);
  });
  server->Get("/live", [live = handlers.live](const httplib::Request&,
                                               httplib::Response& res) {
    Probe(live, res);
  });
  server->Get("/metrics", [metrics = handlers.metrics](const httplib::Request&,
                                                       httplib::Response& res) {
    res.set_content(metrics ? metrics() : std::string(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    port = server->bind_to_any_port(host);
    if (port < 0) port = -1;
  } else if (!server->bind_to_port(host, port)) {
    port = -1;
  }
  if (port < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " for HTTP"));
  }
  auto endpoints = std::unique_ptr<HttpEndpoints>(
      new HttpEndpoints(std::move(server), port));
  httplib::Server* raw = endpoints->server_.get();
  endpoints->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // stop() before the accept loop runs would be lost; wait for it.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!raw->is_running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return endpoints;
}

HttpEndpoints::HttpEndpoints(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

HttpEndpoints::~HttpEndpoints() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace server
}  // namespace vaultca
