
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "testing/real_vault.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace testkit {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("bind to 127.0.0.1:0 failed");
  }
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool PortOpen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Builds a NULL-terminated array of C strings backed by `storage`.
std::vector<char*> CArgs(std::vector<std::string>& storage) {
  std::vector<char*> out;
  for (std::string& s : storage) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> BaseEnv(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> all = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"}};
  if (const char* tmp = std::getenv("TEST_TMPDIR")) all["HOME"] = tmp;
  else all["HOME"] = "/tmp";
  for (const auto& [k, v] : env) all[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(absl::StrCat(k, "=", v));
  return out;
}

// Forks and execs argv with stdin/stdout/stderr redirected to files.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& env,
                            const std::string& in_path,
                            const std::string& out_path,
                            const std::string& err_path) {
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = BaseEnv(env);
  std::vector<char*> c_args = CArgs(args);
  std::vector<char*> c_env = CArgs(envs);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int in = open(in_path.empty() ? "/dev/null" : in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    setpgid(0, 0);
    execve(c_args[0], c_args.data(), c_env.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

absl::StatusOr<CommandResult> RunCommand(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const std::string& stdin_data) {
  const std::string dir = MakeTempDir("cmd");
  std::string in_path;
  if (!stdin_data.empty()) {
    absl::StatusOr<std::string> p = WriteFileIn(dir, "stdin", stdin_data);
    if (!p.ok()) return p.status();
    in_path = *p;
  }
  const std::string out_path = dir + "/stdout";
  const std::string err_path = dir + "/stderr";
  absl::StatusOr<pid_t> pid = Spawn(argv, env, in_path, out_path, err_path);
  if (!pid.ok()) return pid.status();
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  result.out = ReadAll(out_path);
  result.err = ReadAll(err_path);
  return result;
}

absl::StatusOr<std::string> VaultBinary() {
  const char* bin = std::getenv("VAULTCA_VAULT_BIN");
  if (bin == nullptr || *bin == '\0') {
    return absl::NotFoundError(
        "VAULTCA_VAULT_BIN is not set: build Vault with tools/vault/build.sh "
        "and pass its path (bazel test --test_env=VAULTCA_VAULT_BIN=...), or "
        "set VAULTCA_ALLOW_NO_VAULT=1 to skip the real-Vault tests");
  }
  if (access(bin, X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "VAULTCA_VAULT_BIN='", bin, "' is not an executable file: rebuild it "
        "with tools/vault/build.sh"));
  }
  return std::string(bin);
}

bool MissingVaultAllowed() {
  const char* allow = std::getenv("VAULTCA_ALLOW_NO_VAULT");
  return allow != nullptr && std::string(allow) == "1";
}

absl::StatusOr<std::unique_ptr<RealVault>> RealVault::Start(
    const std::string& binary, const TestTls& tls) {
  std::unique_ptr<RealVault> vault(new RealVault());
  vault->binary_ = binary;
  vault->ca_file_ = tls.ca_file;
  vault->dir_ = MakeTempDir("real_vault");
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  vault->port_ = *port;
  const std::string config = absl::StrCat(
      "storage \"inmem\" {}\n"
      "disable_mlock = true\n"
      "ui = false\n"
      "api_addr = \"https://127.0.0.1:", vault->port_, "\"\n",
      "listener \"tcp\" {\n"
      "  address = \"127.0.0.1:", vault->port_, "\"\n",
      "  tls_cert_file = \"", tls.server_cert_file, "\"\n",
      "  tls_key_file = \"", tls.server_key_file, "\"\n",
      "  tls_min_version = \"tls12\"\n"
      "}\n");
  absl::StatusOr<std::string> config_path =
      WriteFileIn(vault->dir_, "vault.hcl", config);
  if (!config_path.ok()) return config_path.status();
  absl::StatusOr<pid_t> pid = Spawn(
      {binary, "server", absl::StrCat("-config=", *config_path)},
      {{"VAULT_LOG_LEVEL", "debug"}}, "", vault->dir_ + "/server.out",
      vault->dir_ + "/server.log");
  if (!pid.ok()) return pid.status();
  vault->pid_ = *pid;
  absl::Status ready = vault->WaitForListener();
  if (!ready.ok()) return ready;
  absl::Status init = vault->InitAndUnseal();
  if (!init.ok()) return init;
  return vault;
}

void RealVault::Freeze() const {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void RealVault::Thaw() const {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

RealVault::~RealVault() {
  if (pid_ <= 0) return;
  Thaw();
  kill(pid_, SIGTERM);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  int status;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > give_up) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string RealVault::address() const {
  return absl::StrCat("https://127.0.0.1:", port_);
}

std::string RealVault::Log() const {
  return ReadAll(dir_ + "/server.log") + ReadAll(dir_ + "/server.out");
}

absl::Status RealVault::WaitForListener() {
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("vault server exited at start:\n", Log()));
    }
    if (PortOpen(port_)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("vault server did not listen within 60 s:\n", Log()));
}

absl::StatusOr<CommandResult> RealVault::CliResult(
    const std::vector<std::string>& args, const std::string& token) const {
  std::vector<std::string> argv = {binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env = {
      {"VAULT_ADDR", address()},
      {"VAULT_CACERT", ca_file_},
      {"VAULT_TOKEN", token.empty() ? root_token_ : token},
  };
  return RunCommand(argv, env);
}

absl::StatusOr<std::string> RealVault::Cli(const std::vector<std::string>& args,
                                           const std::string& token,
                                           const std::string& stdin_data) const {
  std::vector<std::string> argv = {binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env = {
      {"VAULT_ADDR", address()},
      {"VAULT_CACERT", ca_file_},
      {"VAULT_TOKEN", token.empty() ? root_token_ : token},
  };
  absl::StatusOr<CommandResult> result = RunCommand(argv, env, stdin_data);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    std::string cmd;
    for (const std::string& a : args) absl::StrAppend(&cmd, " ", a);
    return absl::InternalError(absl::StrCat("vault", cmd, " exited ",
                                            result->exit_code, ": ", result->err,
                                            result->out));
  }
  return result->out;
}

absl::Status RealVault::InitAndUnseal() {
  absl::StatusOr<std::string> out = Cli(
      {"operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"});
  if (!out.ok()) return out.status();
  nlohmann::json init = nlohmann::json::parse(*out, nullptr, false);
  if (init.is_discarded() || !init.contains("root_token") ||
      !init["root_token"].is_string() || !init.contains("unseal_keys_b64") ||
      !init["unseal_keys_b64"].is_array() || init["unseal_keys_b64"].empty() ||
      !init["unseal_keys_b64"][0].is_string()) {
    return absl::InternalError(
        absl::StrCat("unexpected vault operator init output: ", *out));
  }
  root_token_ = init["root_token"].get<std::string>();
  unseal_key_ = init["unseal_keys_b64"][0].get<std::string>();
  absl::StatusOr<std::string> unsealed =
      Cli({"operator", "unseal", unseal_key_});
  if (!unsealed.ok()) return unsealed.status();
  // Wait until this node is active (inmem storage: at once, normally).
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up) {
    absl::StatusOr<CommandResult> status = CliResult({"status", "-format=json"});
    if (status.ok() && status->exit_code == 0) {
      nlohmann::json s = nlohmann::json::parse(status->out, nullptr, false);
      if (!s.is_discarded() && s.contains("sealed") && s["sealed"].is_boolean() &&
          !s["sealed"].get<bool>()) {
        return absl::OkStatus();
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("vault did not unseal within 30 s:\n", Log()));
}

absl::Status StartSuiteVault(TestTls** tls, RealVault** vault) {
  absl::StatusOr<std::string> binary = VaultBinary();
  if (!binary.ok()) return binary.status();
  absl::StatusOr<TestTls> made = MakeTestTls();
  if (!made.ok()) return made.status();
  auto owned_tls = std::make_unique<TestTls>(*std::move(made));
  absl::StatusOr<std::unique_ptr<RealVault>> started =
      RealVault::Start(*binary, *owned_tls);
  if (!started.ok()) return started.status();
  *tls = owned_tls.release();
  *vault = started->release();
  return absl::OkStatus();
}

}  // namespace testkit
}  // namespace vaultca
