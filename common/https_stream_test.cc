// HttpsStream against a loopback TLS server: pieces arrive as the server
// writes them, early stop, cancellation from another thread, and the idle
// bound on a peer that never answers.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/internal/https_request.h"
#include "common/sync.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace vaultca {
namespace internal {
namespace {

using ::testing::HasSubstr;

// What the test lets the server write next.
class Gate {
 public:
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  // False when the gate stayed shut for `timeout`.
  bool Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (!open_) {
      const absl::Time now = absl::Now();
      if (now >= deadline) return false;
      cv_.WaitWithTimeout(&mu_, deadline - now);
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};

class HttpsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("https-stream");
    tls_ = testkit::WriteLoopbackTlsServerFiles(dir_, "server");
    server_ = std::make_unique<httplib::SSLServer>(tls_.cert_file.c_str(),
                                                   tls_.key_file.c_str());
    ASSERT_TRUE(server_->is_valid());
    server_->Get("/two-parts", [this](const httplib::Request&,
                                      httplib::Response& res) {
      auto step = std::make_shared<int>(0);
      res.set_chunked_content_provider(
          "text/plain", [this, step](size_t, httplib::DataSink& sink) {
            if (*step == 0) {
              sink.write("first\n", 6);
            } else {
              // Only after the client has seen the first part.
              if (!second_part_.Wait(absl::Seconds(20))) return false;
              sink.write("second\n", 7);
              sink.done();
            }
            ++*step;
            return true;
          });
    });
    server_->Get("/gone", [](const httplib::Request&, httplib::Response& res) {
      res.status = 410;
      res.set_content(R"({"kind":"Status","code":410})", "application/json");
    });
    server_->Get("/silent-body", [this](const httplib::Request&,
                                        httplib::Response& res) {
      res.set_chunked_content_provider(
          "text/plain", [this](size_t, httplib::DataSink&) {
            // Headers only; the body never comes until teardown.
            return !release_.Wait(absl::Milliseconds(100));
          });
    });
    server_->Get("/cut", [](const httplib::Request&, httplib::Response& res) {
      auto sent = std::make_shared<bool>(false);
      res.set_chunked_content_provider(
          "text/plain", [sent](size_t, httplib::DataSink& sink) {
            if (*sent) return false;  // closes without the final chunk
            sink.write("partial\n", 8);
            *sent = true;
            return true;
          });
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) absl::SleepFor(absl::Milliseconds(1));
    options_.ca_file = tls_.ca_file;
    options_.timeout = absl::Seconds(30);
  }

  void TearDown() override {
    release_.Open();
    second_part_.Open();
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string Url(const std::string& path) {
    return absl::StrCat("https://127.0.0.1:", port_, path);
  }

  std::string dir_;
  testkit::TlsServerFiles tls_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
  Gate second_part_;
  Gate release_;
  HttpsStreamOptions options_;
};

TEST_F(HttpsStreamTest, HandsOverEachPieceAsItArrives) {
  std::vector<long> statuses;
  std::string body;
  absl::StatusOr<long> status = HttpsStream(
      "GET", Url("/two-parts"), {}, options_, nullptr,
      [&](long http_status, absl::string_view piece) {
        statuses.push_back(http_status);
        body.append(piece.data(), piece.size());
        // The server writes its second part only once the first is here,
        // so the exchange completes only if pieces are not held back.
        if (body == "first\n") second_part_.Open();
        return true;
      });
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(body, "first\nsecond\n");
  ASSERT_FALSE(statuses.empty());
  for (long s : statuses) EXPECT_EQ(s, 200);
}

TEST_F(HttpsStreamTest, AnnouncesTheHeadersWithAnEmptyPiece) {
  std::vector<std::string> pieces;
  absl::StatusOr<long> status = HttpsStream(
      "GET", Url("/gone"), {}, options_, nullptr,
      [&](long http_status, absl::string_view piece) {
        EXPECT_EQ(http_status, 410);
        pieces.emplace_back(piece);
        return true;
      });
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 410);
  ASSERT_GE(pieces.size(), 2u);
  EXPECT_EQ(pieces[0], "");
  EXPECT_THAT(pieces[1], HasSubstr("Status"));
}

TEST_F(HttpsStreamTest, TheCallerMayStopEarly) {
  int calls = 0;
  absl::StatusOr<long> status = HttpsStream(
      "GET", Url("/silent-body"), {}, options_, nullptr,
      [&](long, absl::string_view) {
        ++calls;
        return false;
      });
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(calls, 1);
}

TEST_F(HttpsStreamTest, CancelEndsAStreamThatIsWaitingForData) {
  HttpsCanceller canceller;
  Gate connected;
  std::thread cancel([&] {
    ASSERT_TRUE(connected.Wait(absl::Seconds(20)));
    canceller.Cancel();
  });
  absl::StatusOr<long> status = HttpsStream(
      "GET", Url("/silent-body"), {}, options_, &canceller,
      [&](long, absl::string_view) {
        connected.Open();
        return true;
      });
  cancel.join();
  EXPECT_EQ(status.status().code(), absl::StatusCode::kCancelled)
      << status.status();

  // A cancelled canceller stops later exchanges before they start.
  int calls = 0;
  status = HttpsStream("GET", Url("/two-parts"), {}, options_, &canceller,
                       [&](long, absl::string_view) {
                         ++calls;
                         return true;
                       });
  EXPECT_EQ(status.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpsStreamTest, AConnectionCutMidBodyIsUnavailable) {
  std::string body;
  absl::StatusOr<long> status = HttpsStream(
      "GET", Url("/cut"), {}, options_, nullptr,
      [&](long, absl::string_view piece) {
        body.append(piece.data(), piece.size());
        return true;
      });
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable)
      << status.status();
  EXPECT_EQ(body, "partial\n");
}

TEST_F(HttpsStreamTest, ABodyThatStopsComingHitsTheIdleBound) {
  options_.idle_timeout = absl::Milliseconds(300);
  absl::StatusOr<long> status =
      HttpsStream("GET", Url("/silent-body"), {}, options_, nullptr,
                  [](long, absl::string_view) { return true; });
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.status().message(), HasSubstr("nothing received"));
}

// A TCP listener that never accepts: the kernel completes the handshake
// from its backlog and the ClientHello is never answered, as with a frozen
// API server.
TEST_F(HttpsStreamTest, APeerThatNeverAnswersHitsTheIdleBound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  options_.idle_timeout = absl::Milliseconds(300);
  absl::StatusOr<long> status = HttpsStream(
      "GET", absl::StrCat("https://127.0.0.1:", ntohs(addr.sin_port), "/"), {},
      options_, nullptr, [](long, absl::string_view) { return true; });
  ::close(fd);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.status().message(), HasSubstr("nothing received"));
}

}  // namespace
}  // namespace internal
}  // namespace vaultca
