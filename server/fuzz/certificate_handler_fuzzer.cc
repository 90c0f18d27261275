// Fuzzes the whole CreateCertificate path as the gRPC service runs it:
// authentication (client certificate, bearer JWT), the clusterid header,
// impersonation, CSR and identity policy, TTL, and signing with a real
// local CA generated once per process.
//
// Input (FuzzInput framing): one byte of flags (bit 0: strict identity
// policy, bit 1: clamp TTLs), then fields CSR PEM, validity seconds (8
// bytes), ImpersonatedIdentity, clusterid, bearer token, peer certificate
// PEM.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/workload_csr.h"
#include "common/log.h"
#include "common/secret_data.h"
#include "common/testing/fuzz_input.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "server/auth/client_cert_authenticator.h"
#include "server/auth/fuzz/fuzz_jwt.h"
#include "server/auth/jwt_authenticator.h"
#include "server/certificate_handler.h"
#include "server/metrics.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace server {
namespace fuzzing {
namespace {

using ::vaultca::fuzzing::Check;
using ::vaultca::fuzzing::FuzzInput;
using ::vaultca::fuzzing::FuzzInputWriter;

constexpr char kSleep[] = "spiffe://cluster.local/ns/default/sa/sleep";

// Lets trusted node agents impersonate workloads of namespace "default"
// only, so both outcomes are reachable.
class NamespaceAuthorizer : public ImpersonationAuthorizer {
 public:
  absl::Status Authorize(const Caller& node,
                         const ServiceAccountRef& target) override {
    if (target.kube_namespace == "default") return absl::OkStatus();
    return absl::PermissionDeniedError("not on the node");
  }
};

// One handler per flag combination, sharing nothing mutable but metrics.
struct Fixture {
  std::unique_ptr<ca::LocalCertificateAuthority> cas[2];
  ServerMetrics metrics;
  std::unique_ptr<CertificateHandler> handlers[4];
};

// The bearer token of the request being handled: no log line and no
// error message may contain it (tokens are credentials).
std::string& CurrentToken() {
  static std::string* token = new std::string;
  return *token;
}

// Looks for the token's signature: the last dot-separated part, when it is
// at least 32 base64url characters. Fixed message text never holds such a
// run, so a hit means the credential itself was echoed (checking the whole
// token gave false findings: the fuzzer copies message text into it).
void CheckNoToken(absl::string_view text) {
  const std::string& token = CurrentToken();
  const size_t dot = token.rfind('.');
  if (dot == std::string::npos) return;
  const absl::string_view signature = absl::string_view(token).substr(dot + 1);
  if (signature.size() < 32) return;
  for (char c : signature) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return;
  }
  Check(text.find(signature) == absl::string_view::npos,
        "a log line or error message holds the bearer token");
}

Fixture& TheFixture() {
  static Fixture* fixture = [] {
    // Refusals are logged one line each; checked, not printed.
    SetLogSinkForTesting(
        [](LogSeverity, absl::string_view line) { CheckNoToken(line); });
    auto* f = new Fixture;
    const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
    auto bundle = ca::KeyCertBundle::Create(
        testkit::Intermediate(root, ca::KeyType::kEcP256));
    Check(bundle.ok(), "test CA material validates");
    for (int clamp = 0; clamp < 2; ++clamp) {
      ca::IssuancePolicyOptions ca_options;
      ca_options.ttl_mode = clamp ? ca::TtlMode::kClamp : ca::TtlMode::kIstiod;
      auto local = ca::LocalCertificateAuthority::New(*bundle, ca_options);
      Check(local.ok(), "local CA starts");
      f->cas[clamp] = *std::move(local);
    }
    const std::string& dir = ::vaultca::fuzzing::ScratchDir();
    ::vaultca::fuzzing::WriteFile(dir, "handler-jwks.json", FuzzJwksJson());
    for (int flags = 0; flags < 4; ++flags) {
      std::vector<std::unique_ptr<Authenticator>> auths;
      auths.push_back(std::make_unique<ClientCertAuthenticator>());
      JwtAuthenticatorOptions jwt;
      jwt.issuer = kFuzzIssuer;
      jwt.jwks_file = dir + "/handler-jwks.json";
      jwt.clock = [] { return FuzzNow(); };
      auto jwt_auth = JwtAuthenticator::New(std::move(jwt));
      Check(jwt_auth.ok(), "JWT authenticator starts");
      auths.push_back(*std::move(jwt_auth));
      CertificateHandlerOptions options;
      options.identity_policy =
          (flags & 1) ? IdentityPolicy::kStrict : IdentityPolicy::kIstiod;
      options.cluster_aliases = {"alias"};
      options.trusted_node_accounts = {"istio-system/ztunnel"};
      f->handlers[flags] = std::make_unique<CertificateHandler>(
          std::move(options), std::move(auths), f->cas[(flags >> 1) & 1].get(),
          &f->metrics, std::make_unique<NamespaceAuthorizer>());
    }
    return f;
  }();
  return *fixture;
}

struct Request {
  int flags = 0;
  std::string csr_pem;
  int64_t validity_seconds = 0;
  std::string impersonated_identity;
  std::string cluster_id;
  std::string bearer_token;
  std::string peer_cert_pem;

  std::string Encode() const {
    FuzzInputWriter w;
    w.Uint(flags, 1)
        .Field(csr_pem)
        .Uint(static_cast<uint64_t>(validity_seconds), 8)
        .Field(impersonated_identity)
        .Field(cluster_id)
        .Field(bearer_token)
        .Field(peer_cert_pem);
    return w.data();
  }
};

absl::StatusOr<std::vector<std::string>> Handle(FuzzInput& in) {
  const int flags = static_cast<int>(in.Uint(1) & 3);
  CertificateRequest request;
  request.csr_pem = in.Field();
  request.validity_seconds = static_cast<int64_t>(in.Uint(8));
  request.impersonated_identity = in.Field();
  request.cluster_id = in.Field();
  const std::string token = in.Field();
  request.auth.bearer_token = SecretData(token);
  request.auth.peer_cert_pem = in.Field();
  // A token that also sits in another (echoable) field proves nothing.
  const bool echoable =
      request.cluster_id.find(token) != std::string::npos ||
      request.impersonated_identity.find(token) != std::string::npos ||
      request.csr_pem.find(token) != std::string::npos ||
      request.auth.peer_cert_pem.find(token) != std::string::npos;
  CurrentToken() = echoable ? "" : token;
  absl::StatusOr<std::vector<std::string>> chain =
      TheFixture().handlers[flags]->Handle(request);
  if (chain.ok()) {
    Check(chain->size() >= 2 &&
              absl::StartsWith((*chain)[0], "-----BEGIN CERTIFICATE-----"),
          "a success returns [leaf, ..., root]");
  } else {
    CheckNoToken(chain.status().message());
    const absl::StatusCode code = chain.status().code();
    Check(code == absl::StatusCode::kUnauthenticated ||
              code == absl::StatusCode::kInvalidArgument ||
              code == absl::StatusCode::kPermissionDenied,
          "failures are Unauthenticated, InvalidArgument or PermissionDenied "
          "(Internal would mean the CA broke)");
  }
  return chain;
}

std::string Csr(const std::vector<std::string>& identities,
                ca::KeyType type = ca::KeyType::kEcP256) {
  ca::WorkloadCsrOptions options;
  options.identities = identities;
  options.key_type = type;
  auto csr = ca::GenerateWorkloadCsr(options);
  Check(csr.ok(), "workload CSR generation");
  return csr->csr_pem;
}

}  // namespace
}  // namespace fuzzing
}  // namespace server

namespace fuzzing {

std::vector<std::string> Seeds() {
  using server::fuzzing::Request;
  using server::fuzzing::Csr;
  using server::fuzzing::FuzzSaToken;
  std::vector<std::string> seeds;

  Request agent;  // istio-agent: projected token, its own identity.
  agent.csr_pem = Csr({server::fuzzing::kSleep});
  agent.validity_seconds = 3600;
  agent.cluster_id = "Kubernetes";
  agent.bearer_token = FuzzSaToken("default", "sleep");
  seeds.push_back(agent.Encode());

  // The seeds must reach signing, or the target tests only refusals.
  std::string leaf;
  {
    FuzzInput in(seeds.back());
    auto chain = server::fuzzing::Handle(in);
    Check(chain.ok(), "the istio-agent seed gets a certificate");
    leaf = (*chain)[0];
  }

  Request strict = agent;
  strict.flags = 1 | 2;
  strict.validity_seconds = int64_t{1} << 40;  // Clamped.
  seeds.push_back(strict.Encode());

  Request mtls = agent;  // Renewal over mTLS with the issued leaf.
  mtls.bearer_token.clear();
  mtls.cluster_id.clear();
  mtls.peer_cert_pem = leaf;
  mtls.csr_pem = Csr({server::fuzzing::kSleep}, ca::KeyType::kEcP384);
  seeds.push_back(mtls.Encode());
  {
    FuzzInput in(seeds.back());
    Check(server::fuzzing::Handle(in).ok(), "the mTLS seed gets a certificate");
  }

  Request ztunnel = agent;  // ztunnel impersonating a workload.
  ztunnel.bearer_token = FuzzSaToken("istio-system", "ztunnel");
  ztunnel.impersonated_identity = server::fuzzing::kSleep;
  seeds.push_back(ztunnel.Encode());
  {
    FuzzInput in(seeds.back());
    Check(server::fuzzing::Handle(in).ok(),
          "the impersonation seed gets a certificate");
  }

  Request refused = ztunnel;
  refused.impersonated_identity = "spiffe://cluster.local/ns/other/sa/x";
  refused.cluster_id = "alias";
  seeds.push_back(refused.Encode());

  Request rsa = agent;
  rsa.csr_pem = Csr({server::fuzzing::kSleep, "sleep.default.svc"},
                    ca::KeyType::kRsa);
  rsa.flags = 1;
  rsa.validity_seconds = -1;
  seeds.push_back(rsa.Encode());

  Request other_cluster = agent;
  other_cluster.cluster_id = "remote";
  seeds.push_back(other_cluster.Encode());

  seeds.push_back(Request().Encode());

  // Findings of past runs (see certificate_handler_test.cc
  // ClusterIdIsEscapedInMessages): clusterid bytes echoed raw.
  Request echoed;
  echoed.flags = 1;
  echoed.validity_seconds = int64_t{0x1d} << 32;
  echoed.cluster_id = std::string("\0us=.oe\xff-f\xfflen\x90\x90\x90\xff,", 19) +
                      std::string(31, '\xff');
  echoed.bearer_token = std::string(16, '\xff');
  seeds.push_back(echoed.Encode());
  Request newline = agent;
  newline.cluster_id = "x\nE0101 forged";
  seeds.push_back(newline.Encode());
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ::vaultca::fuzzing::FuzzInput in(data, size);
  (void)::vaultca::server::fuzzing::Handle(in);
  return 0;
}
