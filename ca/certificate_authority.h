#ifndef VAULTCA_CA_CERTIFICATE_AUTHORITY_H_
#define VAULTCA_CA_CERTIFICATE_AUTHORITY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/issuance_policy.h"

namespace vaultca {
namespace ca {

// One workload certificate request, after the caller has been authenticated.
struct SignRequest {
  // The workload's CSR, verified by an IssuancePolicy (normally the CA's
  // own, policy().VerifyCsr). Only its public key is used (its SANs and
  // extensions are ignored, as istiod does). Required.
  std::optional<VerifiedCsr> csr;
  // The identities the certificate will carry as SANs, in order: spiffe://
  // (and other scheme://) values become URI SANs, IP literals IP SANs, and
  // anything else DNS SANs. Must not be empty.
  std::vector<std::string> identities;
  // Requested lifetime. Zero or negative asks for the default.
  absl::Duration requested_ttl = absl::ZeroDuration();
};

// The answer in IstioCertificateResponse.cert_chain order: the leaf first,
// then each certificate of the CA chain as its own element, and the root
// bundle as one last element. Every element ends with a newline.
struct SignedChain {
  std::vector<std::string> cert_chain;
};

// Anything that turns an authenticated request into a certificate chain:
// a local CA over KeyCertBundle material, a cache that rotates one, or a
// remote signer such as Vault's PKI engine.
class CertificateAuthority {
 public:
  virtual ~CertificateAuthority() = default;

  // Issues a certificate for `request` under policy(). InvalidArgument for
  // a missing CSR or one whose key policy() refuses, bad identities or a
  // refused TTL (the caller's fault, not retryable); FailedPrecondition or
  // Unavailable when the CA cannot sign right now; Internal when signing
  // itself failed.
  virtual absl::StatusOr<SignedChain> Sign(const SignRequest& request) = 0;

  // The root bundle a workload must trust to verify what Sign returns,
  // PEM, as published in istio-ca-root-cert.
  virtual absl::StatusOr<std::string> RootBundlePem() = 0;

  // The request policy Sign applies; the same object for the CA's life.
  // Callers verify CSRs with it and ask it about TTLs.
  virtual const IssuancePolicy& policy() const = 0;

  // False when Sign never waits on another process or the network (it
  // signs with a key in this process), so a caller may run it on a thread
  // that must not stall. A remote signer keeps the default.
  virtual bool SignMayBlock() const { return true; }
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CERTIFICATE_AUTHORITY_H_
