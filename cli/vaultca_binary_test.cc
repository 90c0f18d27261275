// Runs the vaultca binary as a process: the command list, every
// subcommand's --help, `serve --check-config`, and `vaultca serve` with
// the CA in the real Vault answering `vaultca check --server`.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/check.h"
#include "cli/testing/cli_test_env.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"
#include "testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;

// From testing/tsan_options.cc: a TSan-built vaultca gets the same
// options through TSAN_OPTIONS (it has no hook of its own).
extern "C" const char* __tsan_default_options();
extern "C" const char* __tsan_default_suppressions();

std::string Binary() {
  if (const char* path = std::getenv("VAULTCA_CLI_BINARY")) return path;
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                      "/cli/vaultca");
}

std::string SourceFile(const std::string& rel) {
  if (const char* root = std::getenv("VAULTCA_SOURCE_DIR")) return absl::StrCat(root, "/", rel);
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/", rel);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Process {
  pid_t pid = -1;
  std::string out;
  std::string err;
};

Process Spawn(const std::vector<std::string>& args, const std::string& dir,
              const std::map<std::string, std::string>& env = {}) {
  static int n = 0;
  Process p;
  p.out = absl::StrCat(dir, "/out", n);
  p.err = absl::StrCat(dir, "/err", n++);
  const std::string suppressions = dir + "/tsan.supp";
  std::ofstream(suppressions) << __tsan_default_suppressions();
  std::string tsan_options =
      absl::StrCat(__tsan_default_options(), ":suppressions=", suppressions);
  if (const char* old = std::getenv("TSAN_OPTIONS")) {
    tsan_options = absl::StrCat(old, ":", tsan_options);
  }
  p.pid = fork();
  if (p.pid == 0) {
    const int out = open(p.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(p.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<std::string> full = {Binary()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin",
                                            "TSAN_OPTIONS=" + tsan_options};
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return p;
}

int WaitExit(const Process& p) {
  int status = 0;
  waitpid(p.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunBinary(const std::vector<std::string>& args, const std::string& dir) {
  Process p = Spawn(args, dir);
  const int code = WaitExit(p);
  return {code, Slurp(p.out), Slurp(p.err)};
}

class VaultcaBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testkit::MakeTempDir("vaultca-bin"); }
  std::string dir_;
};

TEST_F(VaultcaBinaryTest, HelpListsEveryCommandAndEachCommandHasHelp) {
  Result top = RunBinary({"--help"}, dir_);
  EXPECT_EQ(top.code, 0);
  for (const char* command : {"serve", "bootstrap", "check", "sync", "rotate"}) {
    EXPECT_THAT(top.out, HasSubstr(absl::StrCat("  ", command, " ")));
  }
  Result none = RunBinary({}, dir_);
  EXPECT_EQ(none.code, 2);
  Result unknown = RunBinary({"renew"}, dir_);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command \"renew\""));

  Result rotate = RunBinary({"rotate", "--help"}, dir_);
  EXPECT_EQ(rotate.code, 0);
  EXPECT_THAT(rotate.out, HasSubstr("intermediate"));

  Result bootstrap = RunBinary({"bootstrap", "--help"}, dir_);
  EXPECT_EQ(bootstrap.code, 0);
  EXPECT_THAT(bootstrap.out, HasSubstr("--dry-run"));
  EXPECT_THAT(bootstrap.out, HasSubstr("allow_istiod_secrets"));
  Result check = RunBinary({"check", "--help"}, dir_);
  EXPECT_EQ(check.code, 0);
  EXPECT_THAT(check.out, HasSubstr("Exit codes (for cron and CI)"));
  EXPECT_THAT(check.out, HasSubstr("--server=VALUE"));
  Result sync = RunBinary({"sync", "--help"}, dir_);
  EXPECT_EQ(sync.code, 0);
  EXPECT_THAT(sync.out, HasSubstr("--once"));
  EXPECT_THAT(sync.out, HasSubstr("..data"));
  // Abseil's --help, as vaultca-server's: exit 1 after the usage.
  Result serve = RunBinary({"serve", "--help"}, dir_);
  EXPECT_THAT(serve.out, HasSubstr("vaultca serve"));
  EXPECT_THAT(serve.out, HasSubstr("--check_config"));
  EXPECT_THAT(serve.out, HasSubstr("--grpc_address"));

  Result bad = RunBinary({"sync", "--dir=/tmp/x", "--secret"}, dir_);
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("exactly one of --dir DIR or --secret"));
}

TEST_F(VaultcaBinaryTest, ServeCheckConfigIsVaultcaServers) {
  Result ok = RunBinary({"serve", "--config=" + SourceFile("examples/server/vaultca.yaml"),
                         "--check-config"},
                        dir_);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("configuration OK"));
  ASSERT_TRUE(testkit::WriteTestFile(dir_ + "/bad.yaml", "log_level: shouting\n").ok());
  Result bad = RunBinary({"serve", "--config=" + dir_ + "/bad.yaml", "--check-config"}, dir_);
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("configuration invalid"));
}

// The CA from the real Vault served by `vaultca serve`, then checked end to
// end by `vaultca check --server`.
TEST_F(VaultcaBinaryTest, CheckServerAgainstServeWithTheCaInVault) {
  auto env = testing::VaultEnv::Start();
  const std::string error = env.ok() ? "" : env.status().ToString();
  VAULTCA_CLI_REQUIRE_PEER(error);
  auto& vault = (*env)->vault();
  ASSERT_TRUE(vault.Cli({"secrets", "enable", "-path=secret", "-version=2", "kv"}).ok());
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  ASSERT_TRUE((*env)->PutMaterial("secret/pki/istiod", testkit::Intermediate(root)).ok());

  const testkit::TestJwtKey key{"k1", "RS256", 0};
  ASSERT_TRUE(testkit::WriteTestFile(dir_ + "/jwks.json", testkit::JwksJson({key})).ok());
  const std::string ref = "vault:secret/data/pki/istiod";
  ASSERT_TRUE(testkit::WriteTestFile(dir_ + "/vaultca.yaml", absl::StrCat(R"(
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0"}
ca:
  source: vault
  vault: {cert_ref: ")", ref, R"(#certificate", key_ref: ")", ref, R"(#privateKey",
          chain_ref: ")", ref, R"(#certChain", root_ref: ")", ref, R"(#rootCert"}
  root_cert_file: )", dir_, R"(/root-cert.pem
auth:
  jwt:
    - issuer: https://kubernetes.default.svc.cluster.local
      jwks_file: )", dir_, R"(/jwks.json
serving: {cert_dir: )", dir_, R"(/serving}
limits: {shutdown_grace: 2s}
)")).ok());
  Process server = Spawn({"serve", "--config=" + dir_ + "/vaultca.yaml"}, dir_,
                         {{"VAULT_ADDR", vault.address()},
                          {"VAULT_CACERT", (*env)->tls().ca_file},
                          {"VAULT_TOKEN", vault.root_token()}});
  int port = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (port == 0 && absl::Now() < deadline) {
    const std::string out = Slurp(server.out);
    const size_t at = out.find("grpc_port=");
    if (at != std::string::npos) port = std::atoi(out.c_str() + at + 10);
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GT(port, 0) << Slurp(server.err);

  const std::string jwt = (*env)->WriteFile(
      "istio-ca.jwt", testkit::SignJwt(key, testkit::SaClaimsJson({})));
  std::vector<std::string> args = (*env)->TokenArgs();
  args.push_back(absl::StrCat("--server=127.0.0.1:", port));
  args.push_back("--server-token-file=" + jwt);
  testing::RunResult check = testing::RunCli(RunCheck, args);
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("PASS  server certificate: 127.0.0.1:"));
  EXPECT_THAT(check.out, HasSubstr("for spiffe://cluster.local/ns/default/sa/sleep"));
  EXPECT_THAT(check.out, HasSubstr("PASS  server chain: the leaf verifies against the root in Vault"));

  // Without the token the server refuses, and check says so.
  args.pop_back();
  testing::RunResult refused = testing::RunCli(RunCheck, args);
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.out, HasSubstr("FAIL  server certificate"));
  EXPECT_THAT(refused.out, HasSubstr("UNAUTHENTICATED"));

  kill(server.pid, SIGTERM);
  EXPECT_EQ(WaitExit(server), 0) << Slurp(server.err);
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
