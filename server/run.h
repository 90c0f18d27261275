#ifndef VAULTCA_SERVER_RUN_H_
#define VAULTCA_SERVER_RUN_H_

namespace vaultca {
namespace server {

// Runs vaultca-server with command-line arguments `argv` (argv[0] is the
// program name shown in --help): parses the flags, loads and checks the
// configuration, and serves until SIGTERM or SIGINT. Returns the process
// exit code: 0 after a graceful stop or a valid --check-config, 1 when the
// server cannot start, 2 for an invalid configuration.
//
// Call it first thing in main, while the process has one thread: it removes
// the Vault credentials from the environment (unsetenv races with getenv in
// other threads) and turns core dumps off.
int RunServer(int argc, char** argv);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_RUN_H_
