#ifndef VAULTCA_SERVER_CA_SERVICE_H_
#define VAULTCA_SERVER_CA_SERVICE_H_

#include <atomic>
#include <memory>

#include <grpcpp/grpcpp.h>

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
// answer CANCELLED without work; during a drain new requests answer
// UNAVAILABLE. absl status codes map one to one onto gRPC's.
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
  // Finishes admitted requests, then joins the workers.
  ~CaService() override;

  grpc::ServerUnaryReactor* CreateCertificate(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  // From now on, answers new requests UNAVAILABLE; admitted ones finish.
  void StartDraining() { draining_.store(true); }

  // Requests admitted and not yet answered.
  int in_flight() const;

 private:
  CertificateHandler* const handler_;
  ServerMetrics* const metrics_;
  const CaServiceOptions options_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<internal::WorkQueue> queue_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_CA_SERVICE_H_
