#include "server/http_endpoints.h"

#include <chrono>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sync.h"
#include "httplib.h"

namespace vaultca {
namespace server {
namespace {

// cpp-httplib gives each connection a worker for its whole life, and a
// connection that sends nothing holds it for the keep-alive timeout. With
// a first-in-first-out queue, a few hundred idle connections opened before
// a kubelet probe delay that probe by (connections / workers) x timeout.
// Serving the newest connection first bounds a probe's wait by the time one
// worker takes to free up, whatever the backlog; connections left at the
// back are the oldest, whose clients have most likely given up already.
// The queue itself is bounded only by the process's file descriptors, as
// each entry holds an accepted socket that only its task may close.
class NewestFirstPool : public httplib::TaskQueue {
 public:
  explicit NewestFirstPool(int threads) {
    workers_.reserve(threads);
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this] { Work(); });
    }
  }
  ~NewestFirstPool() override = default;

  void enqueue(std::function<void()> fn) override {
    MutexLock lock(&mu_);
    tasks_.push_back(std::move(fn));
    ready_.Signal();
  }

  // Runs what is queued (each task closes its socket), then joins.
  void shutdown() override {
    {
      MutexLock lock(&mu_);
      shutdown_ = true;
      ready_.SignalAll();
    }
    for (std::thread& t : workers_) t.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> task;
      {
        MutexLock lock(&mu_);
        while (tasks_.empty() && !shutdown_) ready_.Wait(&mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.back());
        tasks_.pop_back();
      }
      task();
    }
  }

  Mutex mu_;
  CondVar ready_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

// Workers: enough that a handful of slow clients leave most of them free,
// few enough to stay cheap on a small pod. A client that trickles its
// request a byte at a time holds a worker for as long as it keeps doing so
// (cpp-httplib times each read, not the request), so this many such
// clients at once would still starve the probes.
constexpr int kWorkers = 16;
// A request line and headers must keep arriving: each read may stall this
// long. Probes and scrapes send a few hundred bytes at once.
constexpr std::chrono::seconds kReadTimeout(2);
constexpr std::chrono::seconds kWriteTimeout(5);
// How long a connection may sit without sending a request (before its first
// one too) while holding a worker. The kubelet opens a connection per probe
// and Prometheus reuses one per scrape interval (15 s or more), so a long
// keep-alive buys nothing; one second is the finest cpp-httplib offers.
constexpr time_t kKeepAliveSeconds = 1;
constexpr size_t kKeepAliveMaxRequests = 10;

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
  server->new_task_queue = [] { return new NewestFirstPool(kWorkers); };
  server->set_read_timeout(kReadTimeout);
  server->set_write_timeout(kWriteTimeout);
  server->set_keep_alive_timeout(kKeepAliveSeconds);
  server->set_keep_alive_max_count(kKeepAliveMaxRequests);
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
