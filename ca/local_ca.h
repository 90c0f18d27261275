#ifndef VAULTCA_CA_LOCAL_CA_H_
#define VAULTCA_CA_LOCAL_CA_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/issuance_policy.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {
namespace internal {
class LeafSigner;
}  // namespace internal

// A CertificateAuthority that signs with CA material held in memory,
// issuing istiod's workload certificate profile exactly (see
// ca/internal/leaf_profile.h). Immutable after New and safe to call from
// any number of threads; rotating the material means building a new one.
class LocalCertificateAuthority : public CertificateAuthority {
 public:
  // Prepares to sign with `bundle` under `policy`, and proves it can:
  // signs and verifies a throwaway certificate. InvalidArgument for a null
  // bundle or policy; Internal when the self-test fails.
  static absl::StatusOr<std::unique_ptr<LocalCertificateAuthority>> New(
      std::shared_ptr<const KeyCertBundle> bundle,
      std::shared_ptr<const IssuancePolicy> policy);

  // The same under a policy built from `options`; also InvalidArgument for
  // inconsistent options (see IssuancePolicy::New).
  static absl::StatusOr<std::unique_ptr<LocalCertificateAuthority>> New(
      std::shared_ptr<const KeyCertBundle> bundle,
      IssuancePolicyOptions options = IssuancePolicyOptions());

  ~LocalCertificateAuthority() override;

  // Checks the request with policy() (IssuancePolicy::Check: the CSR's key,
  // the identities, the TTL), and issues the leaf for the identities:
  // NotBefore = now - 2 min, NotAfter = now + TTL, but never past the
  // signing cert's NotAfter. TTL: <= 0 -> default_ttl (lowered to the
  // signing cert's remaining life); above max_ttl -> InvalidArgument
  // (kIstiod) or max_ttl (kClamp). The chain is [leaf, each chain_pems()
  // element, root_bundle_pem()], or [leaf, root bundle] without a chain.
  // InvalidArgument for a bad CSR, TTL or identity list;
  // FailedPrecondition once the signing cert has expired.
  absl::StatusOr<SignedChain> Sign(const SignRequest& request) override;
  bool SignMayBlock() const override { return false; }

  // The bundle's root_bundle_pem().
  absl::StatusOr<std::string> RootBundlePem() override;

  const IssuancePolicy& policy() const override { return *policy_; }

  const KeyCertBundle& bundle() const { return *bundle_; }

 private:
  LocalCertificateAuthority(std::shared_ptr<const KeyCertBundle> bundle,
                            std::shared_ptr<const IssuancePolicy> policy,
                            std::unique_ptr<internal::LeafSigner> signer);

  const std::shared_ptr<const KeyCertBundle> bundle_;
  const std::shared_ptr<const IssuancePolicy> policy_;
  const std::unique_ptr<internal::LeafSigner> signer_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_LOCAL_CA_H_
