#ifndef VAULTCA_CA_VAULT_PKI_VAULT_PKI_FACTORY_H_
#define VAULTCA_CA_VAULT_PKI_VAULT_PKI_FACTORY_H_

#include <memory>
#include <string>

#include "ca/registry/ca_source_factory.h"

namespace vaultca {
namespace ca {

// ca.source vault-pki: the ca.vault_pki block, which PKI mount, role and
// issuer sign.
struct VaultPkiConfig {
  // VAULTCA_VAULT_PKI_MOUNT.
  std::string mount = "pki";
  // VAULTCA_VAULT_PKI_ROLE; required with the sign endpoint.
  std::string role;
  // "sign" (<mount>/sign/<role>: the role's policy, vaultca's identities
  // as SANs) or "sign-verbatim" (the CSR's names, which must equal them).
  // VAULTCA_VAULT_PKI_ENDPOINT.
  std::string endpoint = "sign";
  // Sign with this issuer (name or id) instead of the mount's default.
  // VAULTCA_VAULT_PKI_ISSUER.
  std::string issuer;
  // The roots workloads trust, PEM. Empty: the self-signed certificates of
  // the issuer's chain as Vault reports it. VAULTCA_VAULT_PKI_ROOT_CERT_FILE.
  std::string root_cert_file;
};

// ca.source vault-pki: Vault's PKI secrets engine signs every certificate
// (the CA key never leaves Vault), after the local request policy; the
// Vault connection comes from the VAULT_* environment.
class VaultPkiFactory : public TypedCaSourceFactory<VaultPkiConfig> {
 public:
  absl::string_view name() const override { return "vault-pki"; }
  absl::string_view config_key() const override { return "vault_pki"; }
  bool signs_remotely() const override { return true; }

 protected:
  void ReadOptions(ConfigBlock& block, VaultPkiConfig* options) const override;
  void ReadEnvironmentOptions(EnvironmentBlock& env,
                              VaultPkiConfig* options) const override;
  absl::Status ValidateOptions(const VaultPkiConfig& options) const override;
  std::string DescribeOptions(const VaultPkiConfig& options) const override;
  absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CreateCa(
      const VaultPkiConfig& options,
      const CaSourceContext& context) const override;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_VAULT_PKI_VAULT_PKI_FACTORY_H_
