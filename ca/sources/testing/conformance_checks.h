#ifndef VAULTCA_CA_SOURCES_TESTING_CONFORMANCE_CHECKS_H_
#define VAULTCA_CA_SOURCES_TESTING_CONFORMANCE_CHECKS_H_

// Checks shared by the MaterialSource conformance suite and source tests.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {
namespace testing {

// Broken material a harness can install.
enum class BadMaterial {
  // The signing cert file/value is not PEM at all.
  kGarbageCert,
  // A valid cert whose key is some other key.
  kMismatchedKey,
};

// Returns OK when `material` passes exactly what the caching CA demands
// before serving: KeyCertBundle validation at `now`, and a throwaway leaf
// signed with it that verifies against its own root bundle.
absl::Status ServesValidMaterial(const CaMaterialPem& material, absl::Time now);

// True when both hold byte-identical cert, key, chain and roots.
bool SameMaterial(const CaMaterialPem& a, const CaMaterialPem& b);

// The signing cert's serial (hex), or "" with a test failure recorded when
// the material does not validate at `now`.
std::string SerialOf(const CaMaterialPem& material, absl::Time now);

// Records a test failure unless `fetched` failed or holds material that
// ServesValidMaterial rejects. `context` names the case in the failure.
void ExpectRejected(const absl::StatusOr<CaMaterialPem>& fetched,
                    absl::Time now, absl::string_view context);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_TESTING_CONFORMANCE_CHECKS_H_
