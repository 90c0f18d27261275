// The body of vaultca-server (and `vaultca serve`): flags, configuration,
// start-up hardening, serving until SIGTERM.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>  // environ

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ca/registry/builtin_ca_sources.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "common/log.h"
#include "common/secret_data.h"
#include "google/protobuf/stubs/logging.h"
#include "server/components.h"
#include "server/config.h"
#include "server/internal/config_parse.h"
#include "server/run.h"
#include "server/server.h"

ABSL_FLAG(std::string, config, "",
          "YAML or JSON configuration file (see examples/server/vaultca.yaml); "
          "empty: defaults plus environment");
ABSL_FLAG(bool, check_config, false,
          "validate the configuration (and load the JWKS files), print a "
          "summary and exit: 0 when valid, 2 otherwise");
ABSL_FLAG(std::string, log_level, "",
          "overrides log_level (debug, info, warning, error)");
ABSL_FLAG(std::string, grpc_address, "",
          "overrides listen.grpc (host:port of the CA service)");
ABSL_FLAG(std::string, http_address, "",
          "overrides listen.http (host:port of /ready, /live, /metrics)");
ABSL_FLAG(std::string, plaintext, "",
          "overrides listen.plaintext (true/false)");
ABSL_FLAG(std::string, root_cert_file, "",
          "overrides ca.root_cert_file (where the root bundle is published)");
ABSL_FLAG(std::string, serving_cert_dir, "", "overrides serving.cert_dir");
ABSL_FLAG(std::string, self_signed_dir, "",
          "overrides ca.self_signed.state_dir");

namespace vaultca {
namespace server {
namespace {

// libprotobuf logs a line for every request with a non-UTF-8 string field,
// before vaultca answers it INVALID_ARGUMENT: unauthenticated callers could
// flood the log. vaultca reports those requests itself, so protobuf's own
// lines go to the debug level.
void ProtobufLogToDebug(google::protobuf::LogLevel level, const char* file,
                        int line, const std::string& message) {
  VAULTCA_LOG(DEBUG) << "protobuf " << file << ":" << line << ": " << message;
  (void)level;
}

// A core dump or a same-user debugger would expose the CA key and the
// Vault token: no core files, and the process is not dumpable (which also
// keeps ptrace and /proc/<pid>/mem, environ and maps away from other
// processes of the same user). Best effort: a failure leaves the server
// usable, and the warning is logged once logging is set up.
std::string DisableCoreDumps() {
  std::string problems;
  const struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    problems =
        absl::StrCat("setrlimit(RLIMIT_CORE, 0): ", std::strerror(errno));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    absl::StrAppend(&problems, problems.empty() ? "" : "; ",
                    "prctl(PR_SET_DUMPABLE, 0): ", std::strerror(errno));
  }
  return problems;
}

// Environment variables holding credentials: the Vault client reads them
// from a copy (SecretData), and they leave the process environment.
constexpr const char* kSecretEnvironment[] = {"VAULT_TOKEN",
                                              "VAULT_APPROLE_SECRET_ID"};

using EnvCopy = absl::flat_hash_map<std::string, SecretData>;

// Copies the environment for the Vault client (config.ca.vault_environment).
std::shared_ptr<const EnvCopy> CopyEnvironment(char** env) {
  auto copy = std::make_shared<EnvCopy>();
  for (char** e = env; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    copy->emplace(std::string(*e, eq - *e), SecretData(eq + 1));
  }
  return copy;
}

// Removes the secret variables from the environment and wipes their text:
// /proc/<pid>/environ shows the block the kernel set up at exec, which
// unsetenv does not touch. Only strings of that block (`initial_env`) are
// wiped; one put there by setenv belongs to libc. unsetenv races with
// getenv in other threads (curl reads proxy variables, gRPC its tracing
// switches), so this runs first thing in main, while the process has a
// single thread.
void ScrubSecretEnvironment(char** initial_env) {
  for (const char* name : kSecretEnvironment) {
    const size_t name_len = std::strlen(name);
    std::vector<char*> originals;
    for (char** e = initial_env; e != nullptr && *e != nullptr; ++e) {
      if (std::strncmp(*e, name, name_len) == 0 && (*e)[name_len] == '=') {
        originals.push_back(*e);
      }
    }
    unsetenv(name);
    for (char* original : originals) {
      ::vaultca::internal::SecureWipe(original, std::strlen(original));
    }
  }
}

absl::Status ApplyFlags(ServerConfig* config) {
  auto set = [](const std::string& value, std::string* field) {
    if (!value.empty()) *field = value;
  };
  set(absl::GetFlag(FLAGS_log_level), &config->log_level);
  set(absl::GetFlag(FLAGS_grpc_address), &config->listen.grpc_address);
  set(absl::GetFlag(FLAGS_http_address), &config->listen.http_address);
  set(absl::GetFlag(FLAGS_root_cert_file), &config->ca.root_cert_file);
  set(absl::GetFlag(FLAGS_serving_cert_dir), &config->serving.cert_dir);
  set(absl::GetFlag(FLAGS_self_signed_dir),
      &config->ca.source_options.Mutable<ca::SelfSignedSourceConfig>()
           .state_dir);
  const std::string plaintext = absl::GetFlag(FLAGS_plaintext);
  if (!plaintext.empty()) {
    auto value = internal::ParseBoolValue("--plaintext", plaintext);
    if (!value.ok()) return value.status();
    config->listen.plaintext = *value;
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerConfig> LoadConfig() {
  ServerConfig config;
  const std::string path = absl::GetFlag(FLAGS_config);
  if (!path.empty()) {
    auto loaded = LoadServerConfigFile(path);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  if (absl::Status s = ApplyEnvironment(ProcessEnvironment(), &config);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ApplyFlags(&config); !s.ok()) return s;
  if (absl::Status s = ValidateServerConfig(config); !s.ok()) return s;
  return config;
}

int CheckConfig(const ServerConfig& config) {
  // Building the authenticators reads the JWKS files: a missing or broken
  // one is a configuration error too.
  auto auth = BuildAuthComponents(config);
  if (!auth.ok()) {
    std::fprintf(stderr, "configuration invalid: %s\n",
                 std::string(auth.status().message()).c_str());
    return 2;
  }
  std::vector<std::string> names;
  for (const auto& a : auth->authenticators) names.emplace_back(a->Name());
  // Validated: the source is registered.
  const ca::CaSourceFactory* factory =
      ca::DefaultCaSources().Find(config.ca.source);
  const std::string source = factory->Describe(config.ca.source_options);
  std::printf(
      "configuration OK\n  trust domain: %s\n  cluster id: %s\n  grpc: %s "
      "(%s)\n  http: %s\n  CA source: %s\n  workload TTL: default %s, max "
      "%s\n  authenticators: %s\n  identity policy: %s\n",
      config.trust_domain.c_str(), config.cluster_id.c_str(),
      config.listen.grpc_address.c_str(),
      config.listen.plaintext ? "plain text" : "TLS",
      config.listen.http_address.empty() ? "(off)"
                                         : config.listen.http_address.c_str(),
      source.c_str(),
      absl::FormatDuration(config.ca.default_workload_cert_ttl).c_str(),
      absl::FormatDuration(config.ca.max_workload_cert_ttl).c_str(),
      absl::StrJoin(names, ", ").c_str(),
      config.auth.identity_policy == IdentityPolicy::kStrict ? "strict"
                                                             : "istiod");
  return 0;
}

int Run(std::shared_ptr<const EnvCopy> env,
        const std::string& dump_problems) {
  absl::StatusOr<ServerConfig> config = LoadConfig();
  if (!config.ok()) {
    std::fprintf(stderr, "configuration invalid: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_check_config)) return CheckConfig(*config);
  LogSeverity severity = LogSeverity::kInfo;
  ParseLogSeverity(config->log_level, &severity);  // Validated above.
  SetMinLogSeverity(severity);
  google::protobuf::SetLogHandler(ProtobufLogToDebug);
  if (!dump_problems.empty()) {
    VAULTCA_LOG(WARNING) << "core dumps may still be possible: "
                         << dump_problems;
  }

  config->ca.vault_environment =
      [env](absl::string_view name) -> std::optional<std::string> {
    auto it = env->find(name);
    if (it == env->end()) return std::nullopt;
    return std::string(it->second.view());
  };

  // Every thread created from here on inherits the blocked mask, so only
  // sigwait below sees SIGTERM and SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = VaultcaServer::Start(*config);
  if (!server.ok()) {
    VAULTCA_LOG(ERROR) << "vaultca-server cannot start: " << server.status();
    return 1;
  }
  // Machine-readable for scripts and tests that asked for port 0.
  std::printf("grpc_port=%d http_port=%d\n", (*server)->grpc_port(),
              (*server)->http_port());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  VAULTCA_LOG(INFO) << "received signal " << signal_number
                    << ", shutting down gracefully";
  (*server)->Shutdown(config->limits.shutdown_grace);
  return 0;
}

}  // namespace

int RunServer(int argc, char** argv) {
  char** envp = environ;
  const std::string dump_problems = DisableCoreDumps();
  auto env = CopyEnvironment(envp);
  ScrubSecretEnvironment(envp);
  // Debian builds Abseil without NDEBUG, which leaves deadlock detection on
  // for every absl::Mutex (gRPC's too): a debugging aid that cost ~2% of a
  // request's CPU in profiles. The tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Accept --check-config as well as --check_config (Abseil flag names
  // cannot hold dashes).
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> fixed;
  for (std::string& arg : args) {
    if (arg.rfind("--", 0) == 0) {
      const size_t end = std::min(arg.find('='), arg.size());
      for (size_t i = 2; i < end; ++i) {
        if (arg[i] == '-') arg[i] = '_';
      }
    }
    fixed.push_back(arg.data());
  }
  argc = static_cast<int>(fixed.size());
  argv = fixed.data();
  // --help lists the flags defined in this file, whatever the binary
  // (vaultca-server or vaultca) is called.
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/run.cc");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  absl::SetProgramUsageMessage(
      "Istio-compatible certificate authority.\n"
      "  vaultca-server --config=/etc/vaultca/vaultca.yaml\n"
      "  vaultca-server --config=... --check-config\n"
      "  (the same as `vaultca serve ...`)");
  absl::ParseCommandLine(argc, argv);
  return Run(std::move(env), dump_problems);
}

}  // namespace server
}  // namespace vaultca

