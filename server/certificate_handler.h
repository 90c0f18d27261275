#ifndef VAULTCA_SERVER_CERTIFICATE_HANDLER_H_
#define VAULTCA_SERVER_CERTIFICATE_HANDLER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "server/auth/authenticator.h"
#include "server/auth/spiffe.h"
#include "server/config.h"
#include "server/metrics.h"

namespace vaultca {
namespace server {

// One CreateCertificate call as plain data, independent of gRPC.
struct CertificateRequest {
  // IstioCertificateRequest.csr.
  std::string csr_pem;
  // IstioCertificateRequest.validity_duration, seconds.
  int64_t validity_seconds = 0;
  // metadata["ImpersonatedIdentity"] (ztunnel); empty when absent.
  std::string impersonated_identity;
  // The "clusterid" request header; empty when absent.
  std::string cluster_id;
  AuthRequest auth;
};

// Decides whether an authenticated node agent may obtain certificates for
// another workload (istiod's node authorizer: the caller's pod exists with
// its uid and service account, and a running pod of `target` is on the
// same node). Thread-safe; may block on the Kubernetes API.
class ImpersonationAuthorizer {
 public:
  virtual ~ImpersonationAuthorizer() = default;
  // OK when allowed; PermissionDenied with the reason otherwise;
  // Unavailable when the check could not be made.
  virtual absl::Status Authorize(const Caller& node,
                                 const ServiceAccountRef& target) = 0;
};

struct CertificateHandlerOptions {
  std::string trust_domain = "cluster.local";
  // A request's "clusterid" header, when present, must be one of these
  // for a bearer token to be considered.
  std::string cluster_id = "Kubernetes";
  std::vector<std::string> cluster_aliases;
  IdentityPolicy identity_policy = IdentityPolicy::kIstiod;
  // The CSR and TTL policy are the CA's (ca->policy()), asked here, not
  // copied.
  // "<ns>/<sa>" accounts allowed to impersonate (CA_TRUSTED_NODE_ACCOUNTS).
  std::vector<std::string> trusted_node_accounts;
};

// The IstioCertificateService logic, as istiod runs it:
//  1. authenticate: each authenticator in order, the first success wins; a
//     "clusterid" header naming another cluster disqualifies bearer
//     tokens;
//  2. impersonation (metadata ImpersonatedIdentity): only for trusted node
//     accounts approved by the ImpersonationAuthorizer; the certificate
//     then carries exactly the impersonated identity;
//  3. the CA's issuance policy verifies the CSR (once: the CA signs the
//     verified CSR without parsing it again), the identity policy reads
//     it, and the issuance policy is asked whether the TTL is refused, so
//     that a TTL error is reported as one (istiod's TTLError);
//  4. sign.
// Status codes as istiod answers: Unauthenticated for authentication and
// impersonation failures, with istiod's opaque messages ("request
// authenticate failure", "request impersonation authentication failure");
// the reasons go to the log only. Unavailable (retried by Istio's client)
// instead when no authenticator accepted and one could not check the
// credential, or the node check could not be made. InvalidArgument for CSR
// and TTL problems; Internal when the CA is not ready or signing failed.
// Messages to authenticated callers say what to fix; none holds a token.
// Every outcome is counted in `metrics`.
// Thread-safe.
class CertificateHandler {
 public:
  // `ca` and `metrics` must outlive the handler; `impersonation` may be
  // null (impersonation is then always refused).
  CertificateHandler(CertificateHandlerOptions options,
                     std::vector<std::unique_ptr<Authenticator>> authenticators,
                     ca::CertificateAuthority* ca, ServerMetrics* metrics,
                     std::unique_ptr<ImpersonationAuthorizer> impersonation);
  ~CertificateHandler();

  // Returns IstioCertificateResponse.cert_chain: [leaf, CA chain...,
  // root bundle].
  absl::StatusOr<std::vector<std::string>> Handle(
      const CertificateRequest& request);

  // False when Handle(request) will not wait on another process or the
  // network: every authenticator and the CA work locally, and the request
  // does not ask to impersonate.
  bool MayBlock(const CertificateRequest& request) const;

 private:
  absl::StatusOr<Caller> Authenticate(const CertificateRequest& request);
  absl::StatusOr<std::vector<std::string>> Impersonate(
      const Caller& caller, const std::string& target);
  absl::Status Fail(SignError error, absl::Status status);

  const CertificateHandlerOptions options_;
  const std::vector<std::unique_ptr<Authenticator>> authenticators_;
  ca::CertificateAuthority* const ca_;
  ServerMetrics* const metrics_;
  const std::unique_ptr<ImpersonationAuthorizer> impersonation_;
  const bool never_blocks_;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_CERTIFICATE_HANDLER_H_
