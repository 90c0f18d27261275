#ifndef VAULTCA_SERVER_CA_SERVICE_H_
#define VAULTCA_SERVER_CA_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/sync.h"
#include "proto/ca.grpc.pb.h"
#include "server/certificate_handler.h"
#include "server/metrics.h"

namespace vaultca {
namespace server {
namespace internal {
class WorkQueue;
}  // namespace internal

struct CaServiceOptions {
  // Threads running CertificateHandler::Handle.
  int worker_threads = 8;
  // Requests admitted at once (running plus queued); beyond it the answer
  // is RESOURCE_EXHAUSTED, which istio-agent retries with backoff.
  int max_concurrent_requests = 4096;
  // Run the handler on gRPC's thread, skipping the pool, for a request
  // the handler answers without waiting on another process
  // (CertificateHandler::MayBlock: a client certificate or a JWKS file, and
  // a local CA) while the load is light: no other call is being handled on
  // gRPC's threads and the pool holds fewer than kInlineWhilePoolBelow
  // calls. A light load is spared the hand-off (a futex wake and a context
  // switch per call); a heavy one keeps gRPC's few threads for the
  // transport, which reads and answers every connection.
  bool inline_when_non_blocking = true;
};

// Pool occupancy from which a non-blocking call no longer runs inline.
inline constexpr int kInlineWhilePoolBelow = 4;

// istio.v1.auth.IstioCertificateService on gRPC's callback API. Reads the
// call (CSR, validity, metadata ImpersonatedIdentity, "authorization:
// Bearer", "clusterid", the verified TLS peer certificate) on the gRPC
// thread, and runs the handler on its own bounded worker pool so a slow
// authenticator never blocks gRPC's threads (or, under a light load and
// when the handler cannot block, on gRPC's thread). Requests beyond
// the bound answer RESOURCE_EXHAUSTED; requests whose caller gave up while
// queued answer CANCELLED without work; during a drain new requests and the
// answers of running ones are held, then sent (see StartDraining). absl
// status codes map one to one onto gRPC's.
//
// The method is registered raw (bytes in, bytes out) so that vaultca, not
// gRPC, decides what a request that does not parse gets: gRPC 1.51's
// callback handler answers UNIMPLEMENTED with no message, while this is
// INVALID_ARGUMENT naming the problem (typically a string field that is
// not UTF-8, which proto3 refuses).
class CaService final
    : public istio::v1::auth::IstioCertificateService::
          WithRawCallbackMethod_CreateCertificate<
              istio::v1::auth::IstioCertificateService::Service> {
 public:
  // `handler` and `metrics` must outlive the service.
  CaService(CertificateHandler* handler, ServerMetrics* metrics,
            CaServiceOptions options);
  // Answers held requests, finishes admitted ones, then joins the workers.
  ~CaService() override;

  grpc::ServerUnaryReactor* CreateCertificate(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  // Starts the drain. New requests are held unanswered, and so are the
  // answers of admitted requests as they finish, until ReleaseHeld: a
  // client waiting on a call here cannot send its next one on this
  // connection while the server shuts down (gRPC cancels a call that
  // reaches a server already shut down and not yet done sending its
  // GOAWAY). `hold_until` is when the caller means to call ReleaseHeld at
  // the latest: a call whose deadline would expire before it is answered at
  // once (UNAVAILABLE for a new one), and with a `hold_until` already past
  // (the default) every call is.
  void StartDraining(absl::Time hold_until = absl::InfinitePast())
      ABSL_LOCKS_EXCLUDED(drain_mu_);

  // Counts the client connections that made a call in the second before
  // the drain started, or since, and have no call open here now (none
  // running, held, or with its answer held): each could send a call at any
  // instant. 0 means every recent caller is waiting on this server.
  int IdleRecentCallers() const ABSL_LOCKS_EXCLUDED(drain_mu_);

  struct Released {
    // Held requests answered UNAVAILABLE.
    int refused = 0;
    // Held answers sent.
    int answered = 0;
  };
  // Answers every held request, and every later one, UNAVAILABLE, and
  // sends the held answers; later answers go out at once. Call it once the
  // connections have been sent their GOAWAY.
  Released ReleaseHeld() ABSL_LOCKS_EXCLUDED(drain_mu_);

  // Requests admitted and still running or queued (held answers are not).
  int in_flight() const;

  // Requests received so far, whatever their answer.
  int64_t arrivals() const { return arrivals_.load(); }

 private:
  enum class DrainState { kServing, kHolding, kRefusing };

  // A call not answered yet.
  struct OpenCall {
    grpc::CallbackServerContext* context;
    grpc::ServerUnaryReactor* reactor;
    // gRPC's peer address: one per client connection.
    std::string peer;
  };
  struct HeldAnswer {
    OpenCall call;
    grpc::Status status;
  };
  // A client connection as the drain sees it.
  struct Peer {
    absl::Time last_arrival;
    int open_calls = 0;
  };

  // Records the arrival of `call` on its connection.
  void Opened(const OpenCall& call) ABSL_LOCKS_EXCLUDED(drain_mu_);
  // Answers `call`, or holds the answer while the drain holds.
  void Answer(const OpenCall& call, grpc::Status status)
      ABSL_LOCKS_EXCLUDED(drain_mu_);
  // Holds or refuses a request that arrived during the drain.
  void HoldOrRefuse(const OpenCall& call) ABSL_LOCKS_EXCLUDED(drain_mu_);
  // Whether a call with this deadline can wait until hold_until_.
  bool CanHoldLocked(const OpenCall& call) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(drain_mu_);
  void ClosedLocked(const std::string& peer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(drain_mu_);
  void Refuse(const OpenCall& call) ABSL_LOCKS_EXCLUDED(drain_mu_);
  // Runs the handler for an admitted call and answers it.
  void Work(const OpenCall& call, const CertificateRequest& request,
            grpc::ByteBuffer* response_bytes) ABSL_LOCKS_EXCLUDED(drain_mu_);

  CertificateHandler* const handler_;
  ServerMetrics* const metrics_;
  const CaServiceOptions options_;
  // Mirrors drain_state_ != kServing for a lock-free check on every call.
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> arrivals_{0};
  // Calls being handled on gRPC's thread (at most one runs).
  std::atomic<int> inline_running_{0};
  mutable Mutex drain_mu_;
  DrainState drain_state_ ABSL_GUARDED_BY(drain_mu_) = DrainState::kServing;
  absl::Time drain_started_ ABSL_GUARDED_BY(drain_mu_);
  absl::Time hold_until_ ABSL_GUARDED_BY(drain_mu_);
  std::vector<OpenCall> held_ ABSL_GUARDED_BY(drain_mu_);
  std::vector<HeldAnswer> held_answers_ ABSL_GUARDED_BY(drain_mu_);
  // Connections with an open call or a recent arrival; idle ones are
  // forgotten after a while.
  std::unordered_map<std::string, Peer> peers_ ABSL_GUARDED_BY(drain_mu_);
  absl::Time next_forget_ ABSL_GUARDED_BY(drain_mu_);
  std::unique_ptr<internal::WorkQueue> queue_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_CA_SERVICE_H_
