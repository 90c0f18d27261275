#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/sources/files/files_factory.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "ca/sources/files/files_source.h"
#include "ca/workload_csr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"
#include "httplib.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"
#include "testing/test_pki.h"
#include "testing/wait.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::AgentClient;
using testing::AgentOptions;
using testing::AgentResult;
using testkit::SaClaims;
using testkit::TestJwtKey;

constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";
constexpr char kSleep[] = "spiffe://cluster.local/ns/default/sa/sleep";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::map<std::string, std::string> CacertsFiles(const ca::CaMaterialPem& m) {
  return {{"ca-cert.pem", m.cert_pem},
          {"ca-key.pem", std::string(m.key_pem.view())},
          {"cert-chain.pem", m.chain_pem},
          {"root-cert.pem", m.root_bundle_pem}};
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("server");
    ASSERT_TRUE(testkit::WriteTestFile(dir_ + "/jwks.json",
                                           testkit::JwksJson({key_}))
                    .ok());
  }

  ServerConfig Config() {
    ServerConfig c;
    c.listen.grpc_address = "127.0.0.1:0";
    c.listen.http_address = "127.0.0.1:0";
    ca::SelfSignedSourceConfig& self_signed =
        c.ca.source_options.Mutable<ca::SelfSignedSourceConfig>();
    self_signed.state_dir = dir_ + "/self-signed";
    self_signed.key_type = ca::KeyType::kEcP256;
    c.ca.root_cert_file = dir_ + "/root-cert.pem";
    c.serving.cert_dir = dir_ + "/serving";
    c.auth.jwt = {{kIssuer, dir_ + "/jwks.json", {"istio-ca"}}};
    c.limits.worker_threads = 4;
    return c;
  }

  // Starts a server over a cacerts directory holding `material`.
  std::unique_ptr<VaultcaServer> StartWithFiles(
      const ca::CaMaterialPem& material, ServerConfig config) {
    cacerts_ = dir_ + "/cacerts";
    ::mkdir(cacerts_.c_str(), 0755);
    EXPECT_TRUE(
        testkit::PublishLikeKubelet(cacerts_, CacertsFiles(material)).ok());
    config.ca.source = "files";
    config.ca.source_options.Mutable<ca::FilesSourceConfig>().dir = cacerts_;
    return Start(config);
  }

  std::unique_ptr<VaultcaServer> Start(const ServerConfig& config) {
    ServerDependencies deps;
    deps.maintenance_interval = absl::Milliseconds(100);
    auto server = VaultcaServer::Start(config, std::move(deps));
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  std::string Token(SaClaims claims = SaClaims(), TestJwtKey key = {}) {
    if (key.kid.empty()) key = key_;
    return testkit::SignJwt(key, testkit::SaClaimsJson(claims));
  }

  AgentOptions Agent(const VaultcaServer& server) {
    AgentOptions options;
    options.address = absl::StrCat("127.0.0.1:", server.grpc_port());
    options.root_cert_pem = ReadFile(dir_ + "/root-cert.pem");
    options.token = Token();
    options.key_type = ca::KeyType::kEcP256;
    return options;
  }

  TestJwtKey key_{"k1", "RS256", 0};
  std::string dir_;
  std::string cacerts_;
};

TEST_F(ServerTest, IstioAgentObtainsCertificateVerifyingAgainstPublishedRoot) {
  ServerConfig config = Config();
  // istiod's default.
  config.ca.source_options.Mutable<ca::SelfSignedSourceConfig>().key_type =
      ca::KeyType::kRsa;
  auto server = Start(config);
  ASSERT_NE(server, nullptr);
  const std::string root = ReadFile(dir_ + "/root-cert.pem");
  ASSERT_THAT(root, HasSubstr("BEGIN CERTIFICATE"));

  AgentOptions options = Agent(*server);
  options.key_type = ca::KeyType::kRsa;  // RSA 2048, as istio-agent
  AgentResult result = AgentClient(options).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  ASSERT_EQ(result.cert_chain.size(), 2u);
  EXPECT_EQ(result.cert_chain.back(), root);
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, root).ok())
      << testing::VerifyLeaf(result.cert_chain, root);
  auto leaf = testing::InspectLeaf(result.cert_chain[0]);
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(leaf->sans, ElementsAre(kSleep));
  EXPECT_TRUE(leaf->san_critical);
  EXPECT_EQ(leaf->not_after - leaf->not_before,
            absl::Hours(24) + absl::Minutes(2));
  // The server presented a certificate from the same CA for istiod's name.
  auto serving = testing::InspectLeaf(result.server_cert_pem);
  ASSERT_TRUE(serving.ok());
  EXPECT_THAT(serving->sans, ::testing::Contains("istiod.istio-system.svc"));
  // The handshake above verified it as a server certificate; it is not
  // usable as a client certificate.
  EXPECT_THAT(
      std::string(
          testing::VerifyLeaf({result.server_cert_pem}, root).message()),
      HasSubstr("unsuitable certificate purpose"));
}

TEST_F(ServerTest, JwtRejectionsAreUnauthenticated) {
  auto server = Start(Config());
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string name;
    std::string token;
    std::string cluster_id = "Kubernetes";
    std::string expect;
  };
  SaClaims expired;
  expired.issued_at = absl::Now() - absl::Hours(3);
  SaClaims audience;
  audience.audiences = {"https://kubernetes.default.svc"};
  SaClaims issuer;
  issuer.issuer = "https://other-cluster.example";
  std::vector<Case> cases = {
      {"expired", Token(expired), "Kubernetes", "expired"},
      {"audience", Token(audience), "Kubernetes", "audience"},
      {"issuer", Token(issuer), "Kubernetes", "issuer"},
      {"signature", Token(SaClaims(), {"k1", "RS256", 3}), "Kubernetes",
       "signature"},
      {"kid", Token(SaClaims(), {"k9", "RS256", 0}), "Kubernetes",
       "unknown key id"},
      {"cluster", Token(), "cluster-2", "cluster-2"},
      {"none", "", "Kubernetes", "no bearer token"},
  };
  for (const Case& c : cases) {
    AgentOptions options = Agent(*server);
    options.token = c.token;
    options.cluster_id = c.cluster_id;
    // The reason is logged; the caller gets istiod's opaque message.
    testing::LogCapture log;
    AgentResult result = AgentClient(options).Request();
    EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED) << c.name;
    EXPECT_EQ(result.message, "request authenticate failure") << c.name;
    EXPECT_THAT(log.text(), HasSubstr(c.expect)) << c.name;
  }
  EXPECT_EQ(server->metrics().auth_failures(), 7);
}

TEST_F(ServerTest, TlsVerifiesServerNameAndClientCertificates) {
  auto server = Start(Config());
  ASSERT_NE(server, nullptr);
  AgentOptions options = Agent(*server);
  options.server_name = "not-the-ca.example.com";
  EXPECT_EQ(AgentClient(options).Request().code, grpc::StatusCode::UNAVAILABLE);

  // Renewal over mutual TLS: the issued certificate alone authenticates.
  AgentResult first = AgentClient(Agent(*server)).Request();
  ASSERT_EQ(first.code, grpc::StatusCode::OK) << first.message;
  options = Agent(*server);
  options.token = "";
  options.client_cert_chain_pem = first.cert_chain[0];
  options.client_key_pem = first.key_pem;
  AgentResult renewed = AgentClient(options).Request();
  ASSERT_EQ(renewed.code, grpc::StatusCode::OK) << renewed.message;
  auto leaf = testing::InspectLeaf(renewed.cert_chain[0]);
  EXPECT_THAT(leaf->sans, ElementsAre(kSleep));

  // A client certificate from a CA the mesh does not trust fails the
  // handshake instead of authenticating.
  auto other = ca::KeyCertBundle::Create(
      testkit::Root(ca::KeyType::kEcP256, absl::Now(), 4));
  ASSERT_TRUE(other.ok());
  auto other_ca = ca::LocalCertificateAuthority::New(*other);
  ASSERT_TRUE(other_ca.ok());
  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = {kSleep};
  csr_options.key_type = ca::KeyType::kEcP256;
  auto csr = ca::GenerateWorkloadCsr(csr_options);
  ASSERT_TRUE(csr.ok());
  auto verified = (*other_ca)->policy().VerifyCsr(csr->csr_pem);
  ASSERT_TRUE(verified.ok()) << verified.status();
  auto forged =
      (*other_ca)->Sign({*std::move(verified), {kSleep}, absl::Hours(1)});
  ASSERT_TRUE(forged.ok());
  options.client_cert_chain_pem = forged->cert_chain[0];
  options.client_key_pem = csr->key_pem;
  AgentResult refused = AgentClient(options).Request();
  EXPECT_NE(refused.code, grpc::StatusCode::OK);
  EXPECT_TRUE(refused.cert_chain.empty());
}

TEST_F(ServerTest, PluginMaterialAnswersWithTheRootTwice) {
  const ca::CaMaterialPem root = testkit::Root();
  auto server = StartWithFiles(testkit::Intermediate(root), Config());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(ReadFile(dir_ + "/root-cert.pem"), root.root_bundle_pem);
  AgentResult result = AgentClient(Agent(*server)).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  ASSERT_EQ(result.cert_chain.size(), 4u);
  EXPECT_EQ(result.cert_chain[2], root.cert_pem);
  EXPECT_EQ(result.cert_chain[3], root.root_bundle_pem);
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, root.root_bundle_pem).ok());
}

TEST_F(ServerTest, HttpEndpointsHealthAndMetrics) {
  auto server = Start(Config());
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(AgentClient(Agent(*server)).Request().code, grpc::StatusCode::OK);
  httplib::Client http("127.0.0.1", server->http_port());
  auto live = http.Get("/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  auto ready = http.Get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("citadel_server_csr_count 1\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr("citadel_server_success_cert_issuance_count 1\n"));
  EXPECT_THAT(metrics->body, HasSubstr("vaultca_ca_ready 1\n"));
  EXPECT_THAT(metrics->body,
              ::testing::Not(HasSubstr("citadel_server_root_cert_expiry_"
                                       "timestamp 0\n")));
  AgentClient agent(Agent(*server));
  EXPECT_EQ(testing::HealthStatus(agent.channel()), 1);

  server->Shutdown(absl::Seconds(1));
  EXPECT_EQ(server->Readiness().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ServerTest, RotationUnderLoadFailsNoRequest) {
  const ca::CaMaterialPem root = testkit::Root();
  const ca::CaMaterialPem first =
      testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 0);
  const ca::CaMaterialPem second =
      testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 1);
  auto server = StartWithFiles(first, Config());
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->serving_cert_issues(), 1);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  std::vector<std::string> errors(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      AgentClient agent(Agent(*server));
      while (!stop.load()) {
        AgentResult r = agent.Request();
        if (r.code == grpc::StatusCode::OK) {
          ++ok;
        } else {
          ++failed;
          errors[i] = r.message;
        }
      }
    });
  }
  ASSERT_TRUE(testkit::WaitFor([&] { return ok.load() > 0; }));
  ASSERT_TRUE(
      testkit::PublishLikeKubelet(cacerts_, CacertsFiles(second)).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((server->ca().Stats().rotations < 1 ||
          server->serving_cert_issues() < 2) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Signing goes on after the rotation.
  const int at_rotation = ok.load();
  EXPECT_TRUE(testkit::WaitFor([&] { return ok.load() > at_rotation + 16; }));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(server->ca().Stats().rotations, 1);
  EXPECT_GE(server->serving_cert_issues(), 2);
  EXPECT_EQ(failed.load(), 0) << errors[0] << errors[1];
  EXPECT_GT(ok.load(), 16);

  // A client connecting now with the published root gets the new chain and
  // is served the re-issued serving certificate.
  const auto second_subject = testing::InspectLeaf(second.cert_pem)->subject;
  AgentResult late;
  for (int i = 0; i < 50; ++i) {
    late = AgentClient(Agent(*server)).Request();
    ASSERT_EQ(late.code, grpc::StatusCode::OK) << late.message;
    if (testing::InspectLeaf(late.server_cert_pem)->issuer == second_subject) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(late.cert_chain[1], second.cert_pem);
  EXPECT_EQ(testing::InspectLeaf(late.server_cert_pem)->issuer, second_subject);
  EXPECT_TRUE(testing::VerifyLeaf(late.cert_chain, root.root_bundle_pem).ok());
}

// Clients call in a loop while the server shuts down. Half back off 100 ms
// after UNAVAILABLE, as istio-agent does; half retry after 1 ms, which keeps
// a call on the wire at almost every instant and so catches any window in
// which the server cancels calls instead of refusing them. With a `pace`,
// each client also pauses between certificates (between pace/2 and 3*pace/2,
// at random): most of them are idle on an open connection when the drain
// starts, and each sends its next call at an instant of its own.
class ShutdownLoad {
 public:
  ShutdownLoad(const AgentOptions& options, int clients,
               absl::Duration pace = absl::ZeroDuration())
      : clients_(clients), errors_(clients) {
    for (int i = 0; i < clients; ++i) {
      const absl::Duration backoff =
          i % 2 == 0 ? absl::Milliseconds(100) : absl::Milliseconds(1);
      threads_.emplace_back([this, options, backoff, pace, i] {
        AgentClient agent(options);
        std::mt19937 random(i);
        std::uniform_int_distribution<int64_t> jitter(
            0, std::max<int64_t>(1, absl::ToInt64Microseconds(pace)));
        int served = 0;
        while (!stop_.load()) {
          AgentResult r = agent.Request();
          if (r.code == grpc::StatusCode::OK) {
            ++ok_;
            if (++served == 2) ++clients_served_twice_;
            if (pace > absl::ZeroDuration()) {
              absl::SleepFor(pace / 2 + absl::Microseconds(jitter(random)));
            }
          } else if (r.code == grpc::StatusCode::UNAVAILABLE &&
                     draining_.load()) {
            ++unavailable_;
            absl::SleepFor(backoff);
          } else {
            ++failed_;
            std::lock_guard<std::mutex> lock(errors_mu_);
            errors_[i] = absl::StrCat("client ", i, " after ", served,
                                      " certificates: ", r.code,
                                      " (draining: ", draining_.load(),
                                      "): ", r.message, "; ");
            absl::SleepFor(backoff);
          }
        }
      });
    }
  }
  ~ShutdownLoad() { Stop(); }

  // Waits until every client holds a connection and got certificates.
  bool WaitAllServed(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (clients_served_twice_.load() < clients_ && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return clients_served_twice_.load() == clients_;
  }
  // Marks the start of the drain: from now on UNAVAILABLE is expected.
  void Draining() { draining_ = true; }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int ok() const { return ok_.load(); }
  int unavailable() const { return unavailable_.load(); }
  int failed() const { return failed_.load(); }
  std::string errors() const {
    std::lock_guard<std::mutex> lock(errors_mu_);
    return absl::StrJoin(errors_, "");
  }

 private:
  const int clients_;
  std::atomic<int> clients_served_twice_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> unavailable_{0};
  std::atomic<int> failed_{0};
  mutable std::mutex errors_mu_;
  std::vector<std::string> errors_;  // Guarded by errors_mu_.
  std::vector<std::thread> threads_;
};

TEST_F(ServerTest, ShutdownDuringLoadLosesNoAcceptedRequest) {
  // Several rounds: a cancelled call is a race, each round another draw.
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    auto server = Start(Config());
    ASSERT_NE(server, nullptr);
    AgentOptions options = Agent(*server);
    options.deadline = absl::Seconds(3);
    ShutdownLoad load(options, 6);
    // Every client is connected and calling when the drain starts.
    ASSERT_TRUE(load.WaitAllServed(absl::Seconds(20))) << load.errors();
    load.Draining();
    server->Shutdown(absl::Seconds(5));
    load.Stop();
    // Only certificates or UNAVAILABLE after the drain started: no
    // CANCELLED, no DEADLINE_EXCEEDED, no UNAVAILABLE before the drain.
    EXPECT_EQ(load.failed(), 0) << load.errors();
    // The clients were calling when the drain started.
    EXPECT_GT(load.unavailable(), 0);
    // Every request the server accepted was answered with a certificate,
    // and every certificate issued reached its client.
    EXPECT_EQ(server->metrics().csr_count(), server->metrics().issued());
    EXPECT_EQ(server->metrics().issued(), load.ok());
  }
}

TEST_F(ServerTest, ShutdownWithPausingClientsCancelsNoCall) {
  // Several rounds: a call sent into the instant gRPC cancels calls in is a
  // race, each round another draw.
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    auto server = Start(Config());
    ASSERT_NE(server, nullptr);
    AgentOptions options = Agent(*server);
    options.deadline = absl::Seconds(5);
    ShutdownLoad load(options, 16, absl::Milliseconds(300));
    ASSERT_TRUE(load.WaitAllServed(absl::Seconds(30))) << load.errors();
    load.Draining();
    const absl::Time start = absl::Now();
    server->Shutdown(absl::Seconds(5));
    const absl::Duration drain = absl::Now() - start;
    load.Stop();
    EXPECT_EQ(load.failed(), 0) << load.errors();
    EXPECT_EQ(server->metrics().csr_count(), server->metrics().issued());
    EXPECT_EQ(server->metrics().issued(), load.ok());
    // The drain waited for the pausing clients, and no longer than its
    // bound on holding calls plus the time to stop.
    EXPECT_LT(drain, absl::Seconds(3));
  }
}

TEST_F(ServerTest, ExpiredCaAnswersInternal) {
  ServerConfig config = Config();
  config.listen.plaintext = true;
  auto server = StartWithFiles(
      testkit::Root(ca::KeyType::kEcP256, absl::Now(), 6, absl::Seconds(3)),
      config);
  ASSERT_NE(server, nullptr);
  AgentOptions options = Agent(*server);
  options.plaintext = true;
  AgentClient agent(options);
  ASSERT_EQ(agent.Request().code, grpc::StatusCode::OK);
  // The CA expires 3 s after it was made.
  ASSERT_TRUE(testkit::WaitFor([&] { return !server->Readiness().ok(); },
                               absl::Seconds(10)));
  AgentResult result = agent.Request();
  EXPECT_EQ(result.code, grpc::StatusCode::INTERNAL);
  EXPECT_THAT(result.message, HasSubstr("not ready"));
  EXPECT_FALSE(server->Readiness().ok());
}

TEST_F(ServerTest, StalledHandshakesAreClosed) {
  ServerConfig config = Config();
  config.limits.handshake_timeout = absl::Seconds(1);
  auto server = Start(config);
  ASSERT_NE(server, nullptr);
  // A client that connects and never speaks, and one that stops halfway
  // through a TLS ClientHello (its record header promises 512 bytes).
  const std::vector<std::string> openings = {
      std::string(), std::string("\x16\x03\x01\x02\x00\x01\x00", 7)};
  for (const std::string& opening : openings) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server->grpc_port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              0);
    if (!opening.empty()) {
      ASSERT_EQ(::send(fd, opening.data(), opening.size(), 0),
                static_cast<ssize_t>(opening.size()));
    }
    // Far above the 1 s handshake timeout, far below gRPC's 120 s default.
    timeval wait{15, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    char buffer[512];
    ssize_t n;
    do {
      n = ::recv(fd, buffer, sizeof(buffer), 0);
    } while (n > 0);
    const int error = n < 0 ? errno : 0;
    ::close(fd);
    // Closed by the server (orderly, or reset), not still open when the
    // receive timeout expired.
    EXPECT_TRUE(n == 0 || error == ECONNRESET)
        << "opening of " << opening.size() << " bytes: connection still open ("
        << std::strerror(error) << ")";
  }
  // Well-behaved clients were served all along.
  EXPECT_EQ(AgentClient(Agent(*server)).Request().code, grpc::StatusCode::OK);
}

TEST_F(ServerTest, StartsWithoutMaterialAndServesWhenItArrives) {
  // A restart during a Vault outage: listen at once, not ready, keep
  // loading, never exit; serve as soon as the material is there.
  cacerts_ = dir_ + "/cacerts";
  ASSERT_EQ(::mkdir(cacerts_.c_str(), 0755), 0);
  ServerConfig config = Config();
  config.ca.source = "files";
  config.ca.source_options.Mutable<ca::FilesSourceConfig>().dir = cacerts_;
  config.ca.startup_deadline = absl::Milliseconds(200);
  auto server = Start(config);
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->grpc_port(), 0);
  EXPECT_EQ(server->Readiness().code(), absl::StatusCode::kUnavailable);
  httplib::Client http("127.0.0.1", server->http_port());
  auto live = http.Get("/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  auto ready = http.Get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("vaultca_ca_ready 0\n"));

  const ca::CaMaterialPem root = testkit::Root();
  ASSERT_TRUE(testkit::PublishLikeKubelet(
                  cacerts_, CacertsFiles(testkit::Intermediate(root)))
                  .ok());
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (!server->Readiness().ok() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(server->Readiness().ok()) << server->Readiness();
  // Ready means the TLS listener presents the serving certificate (gRPC's
  // watcher reads it up to a second after it is written): the first
  // request after readiness succeeds.
  AgentResult result = AgentClient(Agent(*server)).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, root.root_bundle_pem).ok());
}

TEST_F(ServerTest, StartFailsClearly) {
  ServerConfig config = Config();
  config.auth.jwt[0].jwks_file = dir_ + "/missing.json";
  EXPECT_FALSE(VaultcaServer::Start(config).ok());
  config = Config();
  config.ca.source = "files";
  config.ca.source_options.Mutable<ca::FilesSourceConfig>().dir =
      dir_ + "/empty";
  config.ca.startup_deadline = absl::Milliseconds(200);
  config.ca.startup_policy = ca::StartupPolicy::kFailAfterDeadline;
  auto server = VaultcaServer::Start(config);
  EXPECT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("CA material"));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
