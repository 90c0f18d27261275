#ifndef VAULTCA_CA_SOURCES_VAULT_KV_VAULT_KV_FACTORY_H_
#define VAULTCA_CA_SOURCES_VAULT_KV_VAULT_KV_FACTORY_H_

#include <memory>
#include <string>

#include "ca/registry/ca_source_factory.h"

namespace vaultca {
namespace ca {

// ca.source vault: the ca.vault block, where the CA material lives in
// Vault KV (bank-vaults references).
struct VaultKvSourceConfig {
  // VAULTCA_VAULT_CERT_REF / VAULTCA_VAULT_KEY_REF.
  std::string cert_ref = "vault:secret/data/pki/istiod#certificate";
  std::string key_ref = "vault:secret/data/pki/istiod#privateKey";
  // Optional; see vault_kv_source.h for the fallbacks.
  // VAULTCA_VAULT_CHAIN_REF / VAULTCA_VAULT_ROOT_REF.
  std::string chain_ref;
  std::string root_ref;
};

// ca.source vault: Vault KV references re-read every refresh, served by
// the caching CA; the Vault connection comes from the VAULT_* environment.
class VaultKvSourceFactory : public TypedCaSourceFactory<VaultKvSourceConfig> {
 public:
  absl::string_view name() const override { return "vault"; }
  absl::string_view config_key() const override { return "vault"; }

 protected:
  void ReadOptions(ConfigBlock& block,
                   VaultKvSourceConfig* options) const override;
  void ReadEnvironmentOptions(EnvironmentBlock& env,
                              VaultKvSourceConfig* options) const override;
  absl::Status ValidateOptions(
      const VaultKvSourceConfig& options) const override;
  std::string DescribeOptions(
      const VaultKvSourceConfig& options) const override;
  absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CreateCa(
      const VaultKvSourceConfig& options,
      const CaSourceContext& context) const override;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_VAULT_KV_VAULT_KV_FACTORY_H_
