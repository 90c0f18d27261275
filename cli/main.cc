// vaultca: one command for operators. Dispatches to the subcommands; each
// lives in its own library beside this file.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/bootstrap.h"
#include "cli/check.h"
#include "cli/flags.h"
#include "cli/internal/no_core_dumps.h"
#include "cli/rotate.h"
#include "cli/sync.h"
#include "common/log.h"
#include "server/run.h"
#include "vault/config.h"

namespace {

constexpr char kUsage[] =
    R"(vaultca: a certificate authority for Istio meshes whose CA key lives in Vault.

Usage: vaultca <command> [flags]    (vaultca <command> --help for its flags)

Commands:
  serve      run the CA server (istio.v1.auth.IstioCertificateService), as
             vaultca-server does, with the same flags and configuration
  bootstrap  put the seed's Vault setup in place: policy, kubernetes auth
             role, and a CA (generated or imported) in KV v2, idempotently
  check      log in as istiod would, read and verify the CA in Vault, sign a
             test CSR, optionally ask a running CA (--server)
  sync       keep istiod's plug-in CA (cacerts directory or Secret) in step
             with Vault, for meshes that keep istiod as the CA
  rotate     rotate the intermediate (same root) or the root (trust bundle
             first, then signing, then drop the old root) in staged,
             resumable steps with safety checks between them

Exit codes: 0 success, 1 a check or operation failed, 2 bad flags or
configuration.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? vaultca::cli::kExitUsage : vaultca::cli::kExitOk;
  }
  const std::string command = argv[1];
  if (command == "serve") {
    // The server parses its own flags; it sees "vaultca serve" as its name.
    std::string name = "vaultca serve";
    std::vector<char*> server_argv = {name.data()};
    for (int i = 2; i < argc; ++i) server_argv.push_back(argv[i]);
    server_argv.push_back(nullptr);
    return vaultca::server::RunServer(argc - 1, server_argv.data());
  }
  // The other commands hold the CA key or a Vault token too.
  if (const std::string problems = vaultca::cli::internal::DisableCoreDumps();
      !problems.empty()) {
    std::fprintf(stderr, "vaultca: warning: core dumps may still be possible: %s\n",
                 problems.c_str());
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  const vaultca::vault::EnvLookup env = vaultca::vault::ProcessEnvironment();
  // The libraries' informational lines would interleave with the report.
  vaultca::SetMinLogSeverity(vaultca::LogSeverity::kWarning);
  if (command == "bootstrap") {
    return vaultca::cli::RunBootstrap(args, env, std::cout, std::cerr);
  }
  if (command == "check") return vaultca::cli::RunCheck(args, env, std::cout, std::cerr);
  if (command == "sync") return vaultca::cli::RunSync(args, env, std::cout, std::cerr);
  if (command == "rotate") return vaultca::cli::RunRotate(args, env, std::cout, std::cerr);
  std::fprintf(stderr, "vaultca: unknown command \"%s\" (see vaultca --help)\n",
               command.c_str());
  return vaultca::cli::kExitUsage;
}
