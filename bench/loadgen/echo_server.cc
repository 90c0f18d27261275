// t_rpc's server: IstioCertificateService over the same gRPC + TLS stack
// (mutual TLS verified against the mesh root) that answers every request at
// once with a canned chain of a real response's size, so a loadgen run
// against it measures RPC cost alone. With --burn_us it first spends that
// much CPU on gRPC's thread per call: given the CA key's signature plus the
// CSR's verification, it stands for a CA with no cost beyond those two
// primitives on this stack. Bench-only; never a CA.
//
//   echo_server --listen 127.0.0.1:0 --cert serving.pem --key serving.key
//               --root root-cert.pem --chain cert-chain.pem [--burn_us=N]
// prints grpc_address=HOST:PORT once serving; runs until SIGINT/SIGTERM.

#include <time.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "proto/ca.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port");
ABSL_FLAG(std::string, cert, "", "serving certificate chain (PEM)");
ABSL_FLAG(std::string, key, "", "serving key (PEM)");
ABSL_FLAG(std::string, root, "", "roots client certificates must chain to");
ABSL_FLAG(std::string, chain, "",
          "PEM certificates answered as cert_chain (leaf-sized first entry "
          "is the first certificate); sized like a CA's answer");
ABSL_FLAG(int, burn_us, 0,
          "CPU time (this thread's) spent per call before answering");

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Spins until this thread has used `micros` of CPU: thread CPU time, not
// wall time, so that being preempted does not shorten the work.
void BurnCpu(int micros) {
  if (micros <= 0) return;
  const int64_t until = ThreadCpuNanos() + int64_t{micros} * 1000;
  volatile uint64_t sink = 0;
  while (ThreadCpuNanos() < until) {
    for (int i = 0; i < 100; ++i) sink = sink + i;
  }
}

class EchoService final
    : public istio::v1::auth::IstioCertificateService::CallbackService {
 public:
  EchoService(std::string chain_pem, int burn_us) : burn_us_(burn_us) {
    // One entry per PEM block, as a CA returns leaf, intermediate, root.
    const std::string end = "-----END CERTIFICATE-----\n";
    size_t pos = 0;
    for (;;) {
      size_t e = chain_pem.find(end, pos);
      if (e == std::string::npos) break;
      response_.add_cert_chain(chain_pem.substr(pos, e + end.size() - pos));
      pos = e + end.size();
    }
  }

  grpc::ServerUnaryReactor* CreateCertificate(
      grpc::CallbackServerContext* context,
      const istio::v1::auth::IstioCertificateRequest* request,
      istio::v1::auth::IstioCertificateResponse* response) override {
    BurnCpu(burn_us_);
    *response = response_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const int burn_us_;
  istio::v1::auth::IstioCertificateResponse response_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, so every absl::Mutex (gRPC's too)
  // runs deadlock detection, a debugging aid vaultca-server turns off as
  // well: the peers must run the same gRPC stack at the same cost.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = ReadFile(absl::GetFlag(FLAGS_root));
  ssl.pem_key_cert_pairs.push_back(
      {ReadFile(absl::GetFlag(FLAGS_key)), ReadFile(absl::GetFlag(FLAGS_cert))});
  EchoService service(ReadFile(absl::GetFlag(FLAGS_chain)),
                      absl::GetFlag(FLAGS_burn_us));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen),
                           grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "echo_server: cannot listen on %s\n",
                 absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  std::string host = absl::GetFlag(FLAGS_listen);
  host = host.substr(0, host.rfind(':'));
  std::printf("grpc_address=%s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  // Block the signals and wait for one: shuts down cleanly without a
  // handler that would have to be async-signal-safe.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  server->Shutdown();
  return 0;
}
