// The gRPC server ends connections at limits.max_connection_age, so a
// client verified at its TLS handshake is verified again, against the
// current roots, on a fresh connection.

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace server {
namespace {

constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ServerConnectionAgeTest, OldConnectionsAreClosed) {
  const std::string dir = testkit::MakeTempDir("connection-age");
  testkit::TestJwtKey key{"k1", "ES256", 0};
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/jwks.json",
                                         testkit::JwksJson({key}))
                  .ok());
  ServerConfig config;
  config.listen.grpc_address = "127.0.0.1:0";
  config.listen.http_address = "";
  ca::SelfSignedSourceConfig& self_signed =
      config.ca.source_options.Mutable<ca::SelfSignedSourceConfig>();
  self_signed.state_dir = dir + "/self-signed";
  self_signed.key_type = ca::KeyType::kEcP256;
  config.ca.root_cert_file = dir + "/root-cert.pem";
  config.serving.cert_dir = dir + "/serving";
  config.auth.jwt = {{kIssuer, dir + "/jwks.json", {"istio-ca"}}};
  config.limits.worker_threads = 2;
  config.limits.max_connection_age = absl::Seconds(1);
  config.limits.max_connection_age_grace = absl::Seconds(1);
  auto server = VaultcaServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();

  testing::AgentOptions options;
  options.address = absl::StrCat("127.0.0.1:", (*server)->grpc_port());
  options.root_cert_pem = ReadFile(dir + "/root-cert.pem");
  options.token = testkit::SignJwt(key, testkit::SaClaimsJson({}));
  options.key_type = ca::KeyType::kEcP256;
  testing::AgentClient agent(options);
  ASSERT_EQ(agent.Request().code, grpc::StatusCode::OK);
  ASSERT_EQ(agent.channel()->GetState(false), GRPC_CHANNEL_READY);

  // The GOAWAY comes after 1 s (+-10% jitter); the connection closes once
  // it has no call left, and the channel falls back to IDLE.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  grpc_connectivity_state state = GRPC_CHANNEL_READY;
  while (state == GRPC_CHANNEL_READY && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    state = agent.channel()->GetState(false);
  }
  EXPECT_NE(state, GRPC_CHANNEL_READY);
  // A new connection serves the next request.
  EXPECT_EQ(agent.Request().code, grpc::StatusCode::OK);
  (*server)->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
