#ifndef VAULTCA_SERVER_CA_SERVICE_H_
#define VAULTCA_SERVER_CA_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
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
};

// istio.v1.auth.IstioCertificateService on gRPC's callback API. Reads the
// call (CSR, validity, metadata ImpersonatedIdentity, "authorization:
// Bearer", "clusterid", the verified TLS peer certificate) on the gRPC
// thread, and runs the handler on its own bounded worker pool so a slow
// authenticator never blocks gRPC's threads. Requests beyond the bound
// answer RESOURCE_EXHAUSTED; requests whose caller gave up while queued
// answer CANCELLED without work; during a drain new requests are held, then
// answer UNAVAILABLE (see StartDraining). absl status codes map one to one
// onto gRPC's.
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

  // Starts the drain. Admitted requests finish; new ones are held
  // unanswered until RefuseHeld, so a client waiting on one cannot send its
  // next call on this connection while the server shuts down (gRPC cancels
  // a call that reaches a server already shut down). `hold_until` is when
  // the caller means to call RefuseHeld at the latest: a request whose
  // deadline would expire before it is answered UNAVAILABLE at once, and
  // with a `hold_until` already past (the default) every request is.
  void StartDraining(absl::Time hold_until = absl::InfinitePast())
      ABSL_LOCKS_EXCLUDED(drain_mu_);

  // Answers every held request, and every later one, UNAVAILABLE. Call it
  // once the connections have been sent their GOAWAY. Returns how many were
  // held.
  int RefuseHeld() ABSL_LOCKS_EXCLUDED(drain_mu_);

  // Requests admitted and not yet answered.
  int in_flight() const;

  // Requests received so far, whatever their answer.
  int64_t arrivals() const { return arrivals_.load(); }

 private:
  enum class DrainState { kServing, kHolding, kRefusing };

  // Holds or answers a request that arrived during the drain.
  void HoldOrRefuse(grpc::CallbackServerContext* context,
                    grpc::ServerUnaryReactor* reactor)
      ABSL_LOCKS_EXCLUDED(drain_mu_);
  void Refuse(grpc::ServerUnaryReactor* reactor);

  CertificateHandler* const handler_;
  ServerMetrics* const metrics_;
  const CaServiceOptions options_;
  // Mirrors drain_state_ != kServing for a lock-free check on every call.
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> arrivals_{0};
  mutable Mutex drain_mu_;
  DrainState drain_state_ ABSL_GUARDED_BY(drain_mu_) = DrainState::kServing;
  absl::Time hold_until_ ABSL_GUARDED_BY(drain_mu_);
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(drain_mu_);
  std::unique_ptr<internal::WorkQueue> queue_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_CA_SERVICE_H_
