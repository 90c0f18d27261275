#ifndef VAULTCA_CA_CERTIFICATE_AUTHORITY_H_
#define VAULTCA_CA_CERTIFICATE_AUTHORITY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "x509/csr.h"

namespace vaultca {
namespace ca {

// One workload certificate request, after the caller has been authenticated.
struct SignRequest {
  // The workload's CSR, PEM. Only its public key is used (its SANs and
  // extensions are ignored, as istiod does); its self-signature is checked.
  std::string csr_pem;
  // The identities the certificate will carry as SANs, in order: spiffe://
  // (and other scheme://) values become URI SANs, IP literals IP SANs, and
  // anything else DNS SANs. Must not be empty.
  std::vector<std::string> identities;
  // Requested lifetime. Zero or negative asks for the default.
  absl::Duration requested_ttl = absl::ZeroDuration();
  // Optional: csr_pem already parsed (ParsedCsr::Parse of exactly csr_pem)
  // by a caller that needed its contents, e.g. the server's identity
  // policy. A CA whose CSR policy equals the one it was parsed under uses
  // it instead of parsing and verifying the CSR a second time (the
  // signature check is the costliest step after signing itself).
  std::shared_ptr<const x509::ParsedCsr> parsed_csr;
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

  // Issues a certificate for `request`. InvalidArgument for a bad CSR or
  // TTL (the caller's fault, not retryable); FailedPrecondition or
  // Unavailable when the CA cannot sign right now; Internal when signing
  // itself failed.
  virtual absl::StatusOr<SignedChain> Sign(const SignRequest& request) = 0;

  // The root bundle a workload must trust to verify what Sign returns,
  // PEM, as published in istio-ca-root-cert.
  virtual absl::StatusOr<std::string> RootBundlePem() = 0;

  // False when Sign never waits on another process or the network (it
  // signs with a key in this process), so a caller may run it on a thread
  // that must not stall. A remote signer keeps the default.
  virtual bool SignMayBlock() const { return true; }
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CERTIFICATE_AUTHORITY_H_
