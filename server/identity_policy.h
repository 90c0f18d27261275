#ifndef VAULTCA_SERVER_IDENTITY_POLICY_H_
#define VAULTCA_SERVER_IDENTITY_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "x509/csr.h"
#include "server/config.h"

namespace vaultca {
namespace server {

// Returns the SANs the workload certificate will carry.
//
// kIstiod: `identities` as they are; the CSR's SANs and extensions are
// ignored (istiod writes the caller's identities).
// kStrict (istio-csr): the CSR's URI SANs must equal `identities` as a
// set; no DNS, IP, email or other SAN and no Common Name; extensions
// limited to subjectAltName, keyUsage (digitalSignature and
// keyEncipherment only) and extendedKeyUsage (serverAuth and clientAuth
// only).
//
// InvalidArgument naming the offending part of the CSR.
absl::StatusOr<std::vector<std::string>> ResolveIdentities(
    IdentityPolicy policy, const x509::ParsedCsr& csr,
    const std::vector<std::string>& identities);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_IDENTITY_POLICY_H_
