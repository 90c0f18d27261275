#include "server/http_endpoints.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace vaultca {
namespace server {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::unique_ptr<HttpEndpoints> StartProbes() {
  HttpHandlers handlers;
  handlers.live = [] { return absl::OkStatus(); };
  handlers.ready = [] { return absl::OkStatus(); };
  handlers.metrics = [] { return std::string("vaultca_up 1\n"); };
  auto endpoints = HttpEndpoints::Start("127.0.0.1:0", std::move(handlers));
  EXPECT_TRUE(endpoints.ok()) << endpoints.status();
  return endpoints.ok() ? std::move(*endpoints) : nullptr;
}

TEST(HttpEndpointsTest, Probes) {
  auto endpoints = StartProbes();
  ASSERT_NE(endpoints, nullptr);
  httplib::Client client("127.0.0.1", endpoints->port());
  for (const char* path : {"/live", "/ready"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "vaultca_up 1\n");
}

TEST(HttpEndpointsTest, FailingProbeIs503) {
  HttpHandlers handlers;
  handlers.ready = [] { return absl::UnavailableError("no CA material"); };
  auto endpoints = HttpEndpoints::Start("127.0.0.1:0", std::move(handlers));
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  httplib::Client client("127.0.0.1", (*endpoints)->port());
  auto res = client.Get("/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "no CA material\n");
}

// Hundreds of connections that never send a byte and two clients that
// trickle a request header one byte at a time must not keep the kubelet's
// probes from being answered.
TEST(HttpEndpointsTest, LiveAnswersDespiteIdleAndSlowClients) {
  auto endpoints = StartProbes();
  ASSERT_NE(endpoints, nullptr);
  const int port = endpoints->port();

  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    int fd = Connect(port);
    ASSERT_GE(fd, 0) << "connection " << i;
    idle.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; ++i) {
    slow.emplace_back([port, &stop] {
      int fd = Connect(port);
      if (fd < 0) return;
      const std::string header = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ";
      size_t sent = 0;
      while (!stop.load()) {
        const char byte = sent < header.size() ? header[sent] : 'a';
        if (send(fd, &byte, 1, MSG_NOSIGNAL) != 1) break;
        ++sent;
        absl::SleepFor(absl::Milliseconds(200));
      }
      close(fd);
    });
  }
  // Let the accept loop hand every connection to the server (real time:
  // the server exposes no count of accepted connections).
  absl::SleepFor(absl::Milliseconds(500));

  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(5));
  const absl::Time start = absl::Now();
  auto live = client.Get("/live");
  const absl::Duration took = absl::Now() - start;
  auto ready = client.Get("/ready");

  stop = true;
  for (auto& t : slow) t.join();
  for (int fd : idle) close(fd);

  ASSERT_TRUE(live) << "no answer to /live: " << httplib::to_string(live.error());
  EXPECT_EQ(live->status, 200);
  EXPECT_LT(took, absl::Seconds(5));
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
