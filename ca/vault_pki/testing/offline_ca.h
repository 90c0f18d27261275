#ifndef VAULTCA_CA_VAULT_PKI_TESTING_OFFLINE_CA_H_
#define VAULTCA_CA_VAULT_PKI_TESTING_OFFLINE_CA_H_

// Test-only: a CA kept outside Vault (an "offline root"), made at test time,
// that certifies the intermediates Vault's PKI engine generates.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {
namespace testing {

// Certifies the key and subject of `csr_pem` (e.g. the CSR of Vault's
// <mount>/intermediate/generate/internal) as a CA under `issuer`:
// CA:TRUE without a path length limit, keyUsage keyCertSign | cRLSign,
// SKI, AKI, a random serial, valid from a minute ago for `ttl`. Returns
// the certificate, PEM.
absl::StatusOr<std::string> SignIntermediateCsr(const CaMaterialPem& issuer,
                                                absl::string_view csr_pem,
                                                absl::Duration ttl);

// A second offline level: a fresh EC P-256 CA with subject CN=common_name
// certified by `issuer` as SignIntermediateCsr does. Its chain_pem is the
// certificate itself and its root bundle the issuer's.
absl::StatusOr<CaMaterialPem> OfflineIntermediate(const CaMaterialPem& issuer,
                                                  absl::string_view common_name,
                                                  absl::Duration ttl);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_VAULT_PKI_TESTING_OFFLINE_CA_H_
