#ifndef VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_FACTORY_H_
#define VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_FACTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "ca/key_cert_bundle.h"
#include "ca/registry/ca_source_factory.h"

namespace vaultca {
namespace ca {

// ca.source self-signed: the ca.self_signed block.
struct SelfSignedSourceConfig {
  // Where the root and its key persist; VAULTCA_SELF_SIGNED_DIR.
  std::string state_dir = "/var/lib/vaultca/self-signed";
  // rsa, ec-p256 or ec-p384.
  KeyType key_type = KeyType::kRsa;
  // Non-empty: the root lives in Vault KV v2 at this data path instead of
  // state_dir, shared by every replica (first writer wins);
  // VAULTCA_SELF_SIGNED_VAULT_PATH.
  std::string vault_path;
};

// ca.source self-signed (istiod's default): a self-signed root with the
// trust domain as its organisation, kept in a state directory or shared
// through Vault KV, served by the caching CA.
class SelfSignedSourceFactory
    : public TypedCaSourceFactory<SelfSignedSourceConfig> {
 public:
  absl::string_view name() const override { return "self-signed"; }
  std::vector<std::string> aliases() const override { return {"selfsigned"}; }
  absl::string_view config_key() const override { return "self_signed"; }

 protected:
  void ReadOptions(ConfigBlock& block,
                   SelfSignedSourceConfig* options) const override;
  void ReadEnvironmentOptions(EnvironmentBlock& env,
                              SelfSignedSourceConfig* options) const override;
  absl::Status ValidateOptions(
      const SelfSignedSourceConfig& options) const override;
  std::string DescribeOptions(
      const SelfSignedSourceConfig& options) const override;
  absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CreateCa(
      const SelfSignedSourceConfig& options,
      const CaSourceContext& context) const override;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_FACTORY_H_
