#ifndef VAULTCA_CLI_MATERIAL_CHECK_H_
#define VAULTCA_CLI_MATERIAL_CHECK_H_

#include <optional>

#include "absl/time/time.h"
#include "ca/caching/material_validator.h"
#include "ca/key_cert_bundle.h"
#include "cli/report.h"

namespace vaultca {
namespace cli {

struct MaterialCheckOptions {
  absl::Time now = absl::Now();
  // A certificate expiring sooner than this is a WARN line.
  absl::Duration warn_before = absl::Hours(24 * 30);
};

// Checks CA material the way an operator wants to read about it, one line
// per property: every certificate parses; the private key matches the
// signing certificate; the signing certificate and every chain and root
// certificate is a CA (CA:TRUE, keyCertSign); the expiry of every
// certificate (WARN within warn_before, FAIL when expired or not yet
// valid); the serving checks vaultca-server and `vaultca sync` apply
// (ca::ValidateMaterial: chain to the root, a signing probe); and a test
// workload CSR signed locally whose leaf verifies against the root bundle.
// Returns the validated material when no line failed.
std::optional<ca::ServingMaterial> CheckMaterial(
    const ca::CaMaterialPem& material, const MaterialCheckOptions& options,
    Report* report);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_MATERIAL_CHECK_H_
