// Runs the vaultca-server binary as a process: --check-config, serving an
// istio-agent-like client, and a graceful exit 0 on SIGTERM under load.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/agent_client.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

extern "C" const char* __tsan_default_options();
extern "C" const char* __tsan_default_suppressions();

std::string Binary() {
  if (const char* path = std::getenv("VAULTCA_SERVER_BINARY")) return path;
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/server/vaultca-server");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Process {
  pid_t pid = -1;
  std::string out_path;
  std::string err_path;
};

Process Spawn(const std::vector<std::string>& args, const std::string& dir,
              const std::vector<std::string>& env = {}) {
  Process p;
  p.out_path = dir + "/stdout";
  p.err_path = dir + "/stderr";
  // The server process needs the same TSan options as this test (they only
  // matter in a TSan build).
  const std::string suppressions = dir + "/tsan.supp";
  std::ofstream(suppressions) << __tsan_default_suppressions();
  std::string tsan_options = absl::StrCat(__tsan_default_options(),
                                          ":suppressions=", suppressions);
  if (const char* old = std::getenv("TSAN_OPTIONS")) {
    tsan_options = absl::StrCat(old, ":", tsan_options);
  }
  p.pid = fork();
  if (p.pid == 0) {
    setenv("TSAN_OPTIONS", tsan_options.c_str(), 1);
    for (const std::string& var : env) putenv(strdup(var.c_str()));
    const int out = open(p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(p.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    std::string binary = Binary();
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return p;
}

int WaitExit(const Process& p) {
  int status = 0;
  waitpid(p.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class MainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::MakeTempDir("main");
    ASSERT_TRUE(testkit::WriteTestFile(dir_ + "/jwks.json",
                                           testkit::JwksJson({key_}))
                    .ok());
    config_ = dir_ + "/vaultca.yaml";
    ASSERT_TRUE(testkit::WriteTestFile(
                    config_,
                    absl::StrCat(R"(
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0"}
ca:
  self_signed: {state_dir: )", dir_, R"(/ss, key_type: ec-p256}
  root_cert_file: )", dir_, R"(/root-cert.pem
auth:
  jwt:
    - issuer: https://kubernetes.default.svc.cluster.local
      jwks_file: )", dir_, R"(/jwks.json
serving: {cert_dir: )", dir_, R"(/serving}
limits: {shutdown_grace: 5s}
)"))
                    .ok());
  }

  testkit::TestJwtKey key_{"k1", "RS256", 0};
  std::string dir_;
  std::string config_;
};

TEST_F(MainTest, CheckConfigAcceptsValidAndRefusesInvalid) {
  Process ok = Spawn({"--config=" + config_, "--check-config"}, dir_);
  EXPECT_EQ(WaitExit(ok), 0) << ReadFile(ok.err_path);
  EXPECT_THAT(ReadFile(ok.out_path), HasSubstr("configuration OK"));
  EXPECT_THAT(ReadFile(ok.out_path), HasSubstr("client-certificate, jwt"));

  ASSERT_TRUE(testkit::WriteTestFile(dir_ + "/bad.yaml",
                                         "ca: {max_workload_cert_ttl: 1h}\n")
                  .ok());
  Process bad = Spawn({"--config=" + dir_ + "/bad.yaml", "--check-config"},
                      dir_);
  EXPECT_EQ(WaitExit(bad), 2);
  EXPECT_THAT(ReadFile(bad.err_path), HasSubstr("MAX_WORKLOAD_CERT_TTL"));

  ASSERT_TRUE(testkit::WriteTestFile(
                  dir_ + "/nojwks.yaml",
                  "auth: {jwt: [{issuer: x, jwks_file: /nonexistent}]}\n")
                  .ok());
  Process nojwks =
      Spawn({"--config=" + dir_ + "/nojwks.yaml", "--check-config"}, dir_);
  EXPECT_EQ(WaitExit(nojwks), 2);
  EXPECT_THAT(ReadFile(nojwks.err_path), HasSubstr("/nonexistent"));
}

TEST_F(MainTest, ServesAndExitsZeroOnSigtermUnderLoad) {
  Process server = Spawn({"--config=" + config_}, dir_);
  int grpc_port = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (grpc_port == 0 && absl::Now() < deadline) {
    std::string out = ReadFile(server.out_path);
    const size_t at = out.find("grpc_port=");
    if (at != std::string::npos) grpc_port = std::atoi(out.c_str() + at + 10);
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GT(grpc_port, 0) << ReadFile(server.err_path);

  testing::AgentOptions options;
  options.address = absl::StrCat("127.0.0.1:", grpc_port);
  options.root_cert_pem = ReadFile(dir_ + "/root-cert.pem");
  options.token = testkit::SignJwt(key_, testkit::SaClaimsJson({}));
  options.key_type = ca::KeyType::kEcP256;
  ASSERT_EQ(testing::AgentClient(options).Request().code,
            grpc::StatusCode::OK);

  // Half the clients back off 100 ms after UNAVAILABLE, as istio-agent
  // does; half retry after 1 ms, keeping a call on the wire at almost every
  // instant of the shutdown.
  std::atomic<bool> stop{false}, draining{false};
  std::atomic<int> ok{0}, unavailable{0}, failed{0};
  std::vector<std::thread> load;
  std::vector<std::string> errors(6);
  for (int i = 0; i < 6; ++i) {
    const absl::Duration backoff =
        i % 2 == 0 ? absl::Milliseconds(100) : absl::Milliseconds(1);
    load.emplace_back([&, i, backoff] {
      testing::AgentClient agent(options);
      while (!stop.load()) {
        testing::AgentResult r = agent.Request();
        if (r.code == grpc::StatusCode::OK) {
          ++ok;
        } else if (r.code == grpc::StatusCode::UNAVAILABLE &&
                   draining.load()) {
          ++unavailable;
          absl::SleepFor(backoff);
        } else {
          ++failed;
          errors[i] = absl::StrCat(r.code, " (draining: ", draining.load(),
                                   "): ", r.message, "; ");
          absl::SleepFor(backoff);
        }
      }
    });
  }
  const absl::Time served_deadline = absl::Now() + absl::Seconds(20);
  while (ok.load() < 12 && absl::Now() < served_deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  draining = true;
  kill(server.pid, SIGTERM);
  EXPECT_EQ(WaitExit(server), 0) << ReadFile(server.err_path);
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_GE(ok.load(), 12);
  // Only certificates, or UNAVAILABLE once the drain started: no CANCELLED.
  EXPECT_EQ(failed.load(), 0) << absl::StrJoin(errors, "");
  EXPECT_GT(unavailable.load(), 0);
  EXPECT_THAT(ReadFile(server.err_path), HasSubstr("vaultca-server stopped"));
}

// Waits for the "grpc_port=" line; 0 when it does not come.
int WaitForGrpcPort(const Process& p) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    std::string out = ReadFile(p.out_path);
    const size_t at = out.find("grpc_port=");
    if (at != std::string::npos) return std::atoi(out.c_str() + at + 10);
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}

// The Vault credentials must not stay readable in the process's
// environment, and a crash must not write the CA key into a core file.
TEST_F(MainTest, NoSecretsInEnvironmentAndNoCoreDumps) {
  Process server = Spawn({"--config=" + config_}, dir_,
                         {"VAULT_TOKEN=s.main-test-token",
                          "VAULT_APPROLE_SECRET_ID=main-test-secret-id",
                          "VAULTCA_MAIN_TEST_MARKER=visible"});
  ASSERT_GT(WaitForGrpcPort(server), 0) << ReadFile(server.err_path);
  const std::string proc = absl::StrCat("/proc/", server.pid);

  std::ifstream environ_file(proc + "/environ", std::ios::binary);
  if (environ_file) {
    std::stringstream text;
    text << environ_file.rdbuf();
    const std::string environ = text.str();
    EXPECT_THAT(environ, HasSubstr("VAULTCA_MAIN_TEST_MARKER=visible"));
    EXPECT_EQ(environ.find("VAULT_TOKEN"), std::string::npos);
    EXPECT_EQ(environ.find("s.main-test-token"), std::string::npos);
    EXPECT_EQ(environ.find("VAULT_APPROLE_SECRET_ID"), std::string::npos);
    EXPECT_EQ(environ.find("main-test-secret-id"), std::string::npos);
  } else {
    // Without CAP_SYS_PTRACE, a non-dumpable process's environ is closed
    // even to its own user: that is the protection working.
    EXPECT_EQ(errno, EACCES) << std::strerror(errno);
  }

  std::string core_line;
  std::ifstream limits(proc + "/limits");
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max core file size", 0) == 0) core_line = line;
  }
  std::vector<std::string> fields = absl::StrSplit(
      core_line, ' ', absl::SkipEmpty());
  // "Max core file size <soft> <hard> bytes".
  ASSERT_EQ(fields.size(), 7u) << core_line;
  EXPECT_EQ(fields[4], "0") << core_line;
  EXPECT_EQ(fields[5], "0") << core_line;

  kill(server.pid, SIGTERM);
  EXPECT_EQ(WaitExit(server), 0) << ReadFile(server.err_path);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
