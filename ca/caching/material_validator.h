#ifndef VAULTCA_CA_CACHING_MATERIAL_VALIDATOR_H_
#define VAULTCA_CA_CACHING_MATERIAL_VALIDATOR_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"

namespace vaultca {
namespace ca {

// Why a refresh did not put new material in service.
enum class RefreshFailureCause {
  kFetch,       // The source could not be read.
  kParse,       // A certificate or the key is not well-formed PEM/DER.
  kValidation,  // Well-formed, but KeyCertBundle checks or the probe failed.
  kRootPolicy,  // Valid, but the root change would split the mesh.
};

// Returns "fetch", "parse", "validation" or "root_policy" (metric labels).
absl::string_view RefreshFailureCauseName(RefreshFailureCause cause);

// CA material that passed every check, ready to serve.
struct ServingMaterial {
  std::shared_ptr<const KeyCertBundle> bundle;
  // A LocalCertificateAuthority over `bundle`.
  std::shared_ptr<CertificateAuthority> ca;
  // Set by the caching CA when it puts the material in service: 1 for the
  // first, +1 for each rotation.
  uint64_t generation = 0;
  // The earliest NotAfter of the signing certificate and its chain.
  absl::Time chain_not_after = absl::InfinitePast();
};

// Parses and validates `material` as of `now` and proves it can sign:
// every PEM block parses (else kParse), KeyCertBundle::Create accepts it,
// a LocalCertificateAuthority builds over it with `policy`, and a
// throwaway leaf it signs verifies against its own root bundle (else
// kValidation). On failure `*cause` (when not null) says which step failed.
absl::StatusOr<ServingMaterial> ValidateMaterial(
    const CaMaterialPem& material, std::shared_ptr<const IssuancePolicy> policy,
    absl::Time now, RefreshFailureCause* cause);

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_MATERIAL_VALIDATOR_H_
