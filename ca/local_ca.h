#ifndef VAULTCA_CA_LOCAL_CA_H_
#define VAULTCA_CA_LOCAL_CA_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "x509/csr.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {
namespace internal {
class LeafSigner;
}  // namespace internal

// How a requested TTL above the maximum is treated.
enum class TtlMode {
  // istiod: refused with InvalidArgument.
  kIstiod,
  // istio-csr: lowered to the maximum.
  kClamp,
};

struct LocalCaOptions {
  // Lifetime when the request asks for none (<= 0); istiod's
  // DEFAULT_WORKLOAD_CERT_TTL. Lowered to the signing cert's remaining
  // life at each request.
  absl::Duration default_ttl = absl::Hours(24);
  // istiod's MAX_WORKLOAD_CERT_TTL.
  absl::Duration max_ttl = absl::Hours(24 * 90);
  TtlMode ttl_mode = TtlMode::kIstiod;
  // Which CSR keys are accepted.
  x509::CsrPolicy csr_policy;
  // The time source; absl::Now when empty. Tests inject a fixed clock.
  std::function<absl::Time()> clock;
};

// A CertificateAuthority that signs with CA material held in memory,
// issuing istiod's workload certificate profile exactly (see
// ca/internal/leaf_profile.h). Immutable after New and safe to call from
// any number of threads; rotating the material means building a new one.
class LocalCertificateAuthority : public CertificateAuthority {
 public:
  // Prepares to sign with `bundle`, and proves it can: signs and verifies
  // a throwaway certificate. InvalidArgument for a null bundle or
  // inconsistent options (default_ttl or max_ttl not positive, default_ttl
  // above max_ttl); Internal when the self-test fails.
  static absl::StatusOr<std::unique_ptr<LocalCertificateAuthority>> New(
      std::shared_ptr<const KeyCertBundle> bundle,
      LocalCaOptions options = LocalCaOptions());

  ~LocalCertificateAuthority() override;

  // Verifies the CSR (ParsedCsr::Parse with the options' policy), settles
  // the TTL, and issues the leaf for the request's identities:
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

  const KeyCertBundle& bundle() const { return *bundle_; }

 private:
  LocalCertificateAuthority(std::shared_ptr<const KeyCertBundle> bundle,
                            LocalCaOptions options,
                            std::unique_ptr<internal::LeafSigner> signer);

  const std::shared_ptr<const KeyCertBundle> bundle_;
  const LocalCaOptions options_;
  const std::unique_ptr<internal::LeafSigner> signer_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_LOCAL_CA_H_
