#include "cli/ca_probe.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ca/workload_csr.h"
#include "nlohmann/json.hpp"
#include "proto/ca.grpc.pb.h"

namespace vaultca {
namespace cli {

absl::StatusOr<ProbeResult> ProbeCa(const ProbeOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  if (options.plaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_pem;
    creds = grpc::SslCredentials(ssl);
    if (!options.server_name.empty()) {
      args.SetSslTargetNameOverride(options.server_name);
    }
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.address, creds, args);

  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = {options.identity};
  csr_options.key_type = ca::KeyType::kEcP256;
  absl::StatusOr<ca::WorkloadCsr> csr = ca::GenerateWorkloadCsr(csr_options);
  if (!csr.ok()) return csr.status();

  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(csr->csr_pem);
  request.set_validity_duration(3600);
  (*request.mutable_metadata()->mutable_fields())["CertSigner"].set_string_value("");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options.deadline));
  if (!options.token.empty()) {
    SecretData header("Bearer ");
    header.Append(options.token.view());
    context.AddMetadata("authorization", std::string(header.view()));
  }
  if (!options.cluster_id.empty()) context.AddMetadata("clusterid", options.cluster_id);
  istio::v1::auth::IstioCertificateResponse response;
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(channel);
  grpc::Status status = stub->CreateCertificate(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  ProbeResult result;
  result.cert_chain.assign(response.cert_chain().begin(), response.cert_chain().end());
  result.key_pem = csr->key_pem;
  if (result.cert_chain.empty()) {
    return absl::InternalError("the server answered with an empty cert_chain");
  }
  return result;
}

absl::StatusOr<std::string> IdentityOfToken(absl::string_view jwt,
                                            absl::string_view trust_domain) {
  std::vector<absl::string_view> parts = absl::StrSplit(jwt, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return absl::InvalidArgumentError("the token is not a JWT");
  }
  nlohmann::json claims = nlohmann::json::parse(payload, nullptr, false);
  const std::string sub = claims.is_object() ? claims.value("sub", "") : "";
  std::vector<std::string> fields = absl::StrSplit(sub, ':');
  if (fields.size() != 4 || fields[0] != "system" || fields[1] != "serviceaccount") {
    return absl::InvalidArgumentError(
        "the token is not a Kubernetes service-account token (sub is not "
        "system:serviceaccount:NS:NAME)");
  }
  return absl::StrCat("spiffe://", trust_domain, "/ns/", fields[2], "/sa/", fields[3]);
}

}  // namespace cli
}  // namespace vaultca
