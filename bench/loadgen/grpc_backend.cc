// gRPC IstioCertificateService backend: the callback API, so one client
// thread pool keeps any number of requests outstanding without a thread per
// request (the client must cost less than the servers it measures).

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "bench/loadgen/backends.h"
#include "proto/ca.grpc.pb.h"

namespace vaultca {
namespace bench {
namespace {

using istio::v1::auth::IstioCertificateRequest;
using istio::v1::auth::IstioCertificateResponse;
using istio::v1::auth::IstioCertificateService;

// istio-agent's behaviour on an overloaded CA: retry with backoff.
constexpr char kRetryServiceConfig[] = R"({
  "methodConfig": [{
    "name": [{"service": "istio.v1.auth.IstioCertificateService"}],
    "retryPolicy": {
      "maxAttempts": 5, "initialBackoff": "0.1s", "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
    }
  }]
})";

class GrpcBackend : public Backend {
 public:
  explicit GrpcBackend(const BackendOptions& o) : options_(o) {
    for (const std::string& csr : o.csrs) {
      IstioCertificateRequest r;
      r.set_csr(csr);
      r.set_validity_duration(86400);
      // istio-agent always sends CertSigner (usually empty).
      (*r.mutable_metadata()->mutable_fields())["CertSigner"].set_string_value("");
      requests_.push_back(std::move(r));
    }
    for (int i = 0; i < o.channels; ++i) {
      stubs_.push_back(IstioCertificateService::NewStub(NewChannel(i)));
    }
  }

  bool Prepare() override {
    for (size_t i = 0; i < stubs_.size(); ++i) {
      int code = Blocking(stubs_[i].get(), 0, absl::Seconds(10));
      if (code != 0) {
        std::fprintf(stderr, "loadgen: connection %zu: first request: code %d\n",
                     i, code);
        return false;
      }
    }
    return true;
  }

  void Issue(int csr, std::function<void(int)> done) override {
    auto* call = new Call;
    call->done = std::move(done);
    SetUp(&call->context, options_.deadline);
    IstioCertificateService::Stub* stub =
        stubs_[next_.fetch_add(1, std::memory_order_relaxed) % stubs_.size()].get();
    stub->async()->CreateCertificate(
        &call->context, &requests_[csr], &call->response,
        [call](grpc::Status status) {
          call->done(status.error_code());
          delete call;
        });
  }

  int IssueFresh(int csr) override {
    auto stub = IstioCertificateService::NewStub(NewChannel(-1));
    return Blocking(stub.get(), csr, absl::Seconds(1));
  }

 private:
  struct Call {
    grpc::ClientContext context;
    IstioCertificateResponse response;
    std::function<void(int)> done;
  };

  std::shared_ptr<grpc::Channel> NewChannel(int index) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.root_pem;
    ssl.pem_cert_chain = options_.client_cert_pem;
    ssl.pem_private_key = options_.client_key_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(options_.server_name);
    // One TCP+TLS connection per channel, as separate agents would have.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    args.SetInt("vaultca.bench.channel", index);
    if (options_.agent_retry) args.SetServiceConfigJSON(kRetryServiceConfig);
    return grpc::CreateCustomChannel(options_.address, grpc::SslCredentials(ssl),
                                     args);
  }

  void SetUp(grpc::ClientContext* context, absl::Duration deadline) const {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(deadline));
    if (!options_.token.empty()) {
      context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
    }
    if (!options_.cluster_id.empty()) {
      context->AddMetadata("clusterid", options_.cluster_id);
    }
  }

  int Blocking(IstioCertificateService::Stub* stub, int csr,
               absl::Duration deadline) {
    grpc::ClientContext context;
    SetUp(&context, deadline);
    IstioCertificateResponse response;
    grpc::Status s = stub->CreateCertificate(&context, requests_[csr], &response);
    if (!s.ok()) return s.error_code();
    return response.cert_chain_size() > 0 ? 0 : grpc::StatusCode::INTERNAL;
  }

  const BackendOptions options_;
  std::vector<IstioCertificateRequest> requests_;
  std::vector<std::unique_ptr<IstioCertificateService::Stub>> stubs_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace

std::unique_ptr<Backend> NewGrpcBackend(const BackendOptions& options) {
  return std::make_unique<GrpcBackend>(options);
}

}  // namespace bench
}  // namespace vaultca
