#ifndef VAULTCA_CA_VAULT_PKI_VAULT_PKI_CA_H_
#define VAULTCA_CA_VAULT_PKI_VAULT_PKI_CA_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ca/certificate_authority.h"
#include "ca/issuance_policy.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {

// Which Vault PKI endpoint signs.
enum class VaultPkiEndpoint {
  // POST <mount>/sign/<role> (or <mount>/issuer/<issuer>/sign/<role>): the
  // role's policy applies and vaultca's identities are sent as the SANs.
  kSign,
  // POST <mount>/sign-verbatim[/<role>]: Vault copies the CSR's names, so
  // the CSR must ask for exactly the caller's identities.
  kSignVerbatim,
};

struct VaultPkiCaOptions {
  // The PKI secrets engine's mount path, e.g. "pki_int".
  std::string mount = "pki";
  // The role; required for kSign, optional for kSignVerbatim.
  std::string role;
  VaultPkiEndpoint endpoint = VaultPkiEndpoint::kSign;
  // kSign only: sign with this issuer (a name or id) instead of the mount's
  // default issuer.
  std::string issuer;
  // The roots workloads trust, PEM (istio-ca-root-cert's root-cert.pem).
  // Required: every chain Vault returns must verify to one of them before
  // it is handed out, and the last element of every answer is this bundle.
  std::string root_bundle_pem;
  // Sent as exclude_cn_from_sans: keeps Vault from copying a CSR's CN into
  // the DNS SANs, which would then fail the exact-SAN check below.
  bool exclude_cn_from_sans = true;
  // The issuance policy (TTL default, maximum and mode, CSR key policy,
  // clock), applied before anything is sent; the TTL it settles is the
  // one asked of Vault's role. The issuer's remaining life is Vault's to
  // enforce (its issuers' leaf_not_after_behavior), so default_ttl is not
  // lowered here.
  IssuancePolicyOptions policy;
};

// A CertificateAuthority whose key never leaves Vault: each request is
// checked locally like LocalCertificateAuthority does, signed by Vault's PKI
// secrets engine, and the answer is checked before it is returned:
//  - the leaf carries the CSR's public key, is not a CA, and its SANs are
//    exactly the request's identities (URI, DNS and IP; nothing more, so a
//    role with use_csr_sans=true cannot hand out a name vaultca did not
//    authorise);
//  - the leaf verifies at the current time through the certificates Vault
//    returned (certificate, ca_chain, else issuing_ca) to one of the
//    configured roots.
// The chain returned is [leaf, intermediates in path order, root bundle]:
// a root Vault omitted is completed from the configured bundle and one it
// included is never repeated. Thread-safe; immutable after New.
class VaultPkiCertificateAuthority : public CertificateAuthority {
 public:
  // Makes no network call. InvalidArgument for a null client, an empty or
  // unparsable root bundle, inconsistent TTL options, or a mount, role or
  // issuer that is empty where required or not a plain path segment.
  static absl::StatusOr<std::unique_ptr<VaultPkiCertificateAuthority>> New(
      std::shared_ptr<vault::VaultClient> client, VaultPkiCaOptions options);

  // The checks of New that do not involve the roots or the client: mount,
  // role, issuer and endpoint, and the TTL options. InvalidArgument.
  static absl::Status ValidateOptions(const VaultPkiCaOptions& options);

  ~VaultPkiCertificateAuthority() override;

  // InvalidArgument for a bad CSR, TTL or identity list (nothing is sent);
  // Vault's errors with the client's codes (PermissionDenied for 403,
  // Unavailable for sealed, ...), except that Vault refusing a request that
  // passed the local policy (HTTP 400: the role does not allow the name,
  // key or TTL) is FailedPrecondition, since the fix is in Vault's role;
  // FailedPrecondition when the chain does not verify to the configured
  // roots (or is outside its validity); Internal when Vault's answer is
  // unusable or the leaf is not what was asked (key, SANs, CA flag).
  absl::StatusOr<SignedChain> Sign(const SignRequest& request) override;

  // The configured root bundle, re-encoded as PEM.
  absl::StatusOr<std::string> RootBundlePem() override;

  const IssuancePolicy& policy() const override { return *policy_; }

  // The API path requests go to, e.g. "pki_int/sign/istio".
  const std::string& sign_path() const { return sign_path_; }

 private:
  struct Roots;
  VaultPkiCertificateAuthority(std::shared_ptr<vault::VaultClient> client,
                               VaultPkiCaOptions options,
                               std::shared_ptr<const IssuancePolicy> policy,
                               std::string sign_path,
                               std::unique_ptr<Roots> roots);

  const std::shared_ptr<vault::VaultClient> client_;
  const VaultPkiCaOptions options_;
  const std::shared_ptr<const IssuancePolicy> policy_;
  const std::string sign_path_;
  const std::unique_ptr<Roots> roots_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_VAULT_PKI_VAULT_PKI_CA_H_
