#include "server/testing/agent_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/workload_csr.h"
#include "proto/ca.grpc.pb.h"

namespace vaultca {
namespace server {
namespace testing {

AgentClient::AgentClient(AgentOptions options) : options_(std::move(options)) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options_.plaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.root_cert_pem;
    ssl.pem_cert_chain = options_.client_cert_chain_pem;
    ssl.pem_private_key = std::string(options_.client_key_pem.view());
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  if (!options_.plaintext) args.SetSslTargetNameOverride(options_.server_name);
  // Each agent has its own connection, as separate pods would.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  channel_ = grpc::CreateCustomChannel(options_.address, creds, args);

  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = options_.csr_identities;
  csr_options.key_type = options_.key_type;
  csr_options.organization = "";
  csr_options.san_critical = true;
  auto csr = ca::GenerateWorkloadCsr(csr_options);
  if (!csr.ok()) {
    std::fprintf(stderr, "agent_client: %s\n", csr.status().ToString().c_str());
    std::abort();
  }
  csr_pem_ = csr->csr_pem;
  key_pem_ = csr->key_pem;
}

AgentResult AgentClient::Request() {
  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(csr_pem_);
  request.set_validity_duration(options_.ttl_seconds);
  auto& fields = *request.mutable_metadata()->mutable_fields();
  fields["CertSigner"].set_string_value(options_.cert_signer);
  if (!options_.impersonated_identity.empty()) {
    fields["ImpersonatedIdentity"].set_string_value(
        options_.impersonated_identity);
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.deadline));
  if (!options_.token.empty()) {
    context.AddMetadata("authorization",
                        absl::StrCat("Bearer ", options_.token));
  }
  if (!options_.cluster_id.empty()) {
    context.AddMetadata("clusterid", options_.cluster_id);
  }
  istio::v1::auth::IstioCertificateResponse response;
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(channel_);
  grpc::Status status = stub->CreateCertificate(&context, request, &response);
  AgentResult result;
  result.code = status.error_code();
  result.message = status.error_message();
  result.cert_chain.assign(response.cert_chain().begin(),
                           response.cert_chain().end());
  result.key_pem = key_pem_;
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    std::vector<grpc::string_ref> pem = auth->FindPropertyValues("x509_pem_cert");
    if (!pem.empty()) result.server_cert_pem.assign(pem[0].data(), pem[0].size());
  }
  return result;
}

int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  // HealthCheckRequest{service: ""} encodes to zero bytes.
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request,
                 &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status = 1}: field 1, varint.
  if (bytes.size() == 2 && bytes[0] == 0x08) return bytes[1];
  if (bytes.empty()) return 0;  // UNKNOWN is the default and omitted.
  return -1;
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
