#include "ca/sources/vault_kv/vault_kv_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/sources/vault_kv/vault_kv_source.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {

void VaultKvSourceFactory::ReadOptions(ConfigBlock& block,
                                       VaultKvSourceConfig* options) const {
  block.String("cert_ref", &options->cert_ref);
  block.String("key_ref", &options->key_ref);
  block.String("chain_ref", &options->chain_ref);
  block.String("root_ref", &options->root_ref);
}

void VaultKvSourceFactory::ReadEnvironmentOptions(
    EnvironmentBlock& env, VaultKvSourceConfig* options) const {
  env.String("VAULTCA_VAULT_CERT_REF", &options->cert_ref);
  env.String("VAULTCA_VAULT_KEY_REF", &options->key_ref);
  env.String("VAULTCA_VAULT_CHAIN_REF", &options->chain_ref);
  env.String("VAULTCA_VAULT_ROOT_REF", &options->root_ref);
}

absl::Status VaultKvSourceFactory::ValidateOptions(
    const VaultKvSourceConfig& options) const {
  if (options.cert_ref.empty() || options.key_ref.empty()) {
    return InvalidOptionError("ca.vault.cert_ref/key_ref",
                              "both are required, e.g. "
                              "vault:secret/data/pki/istiod#certificate");
  }
  return absl::OkStatus();
}

std::string VaultKvSourceFactory::DescribeOptions(
    const VaultKvSourceConfig& options) const {
  return absl::StrCat(options.cert_ref, ", ", options.key_ref);
}

absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>>
VaultKvSourceFactory::CreateCa(const VaultKvSourceConfig& options,
                               const CaSourceContext& context) const {
  auto client = context.vault_client();
  if (!client.ok()) return client.status();
  VaultKvSourceOptions source;
  source.cert_ref = options.cert_ref;
  source.key_ref = options.key_ref;
  source.chain_ref = options.chain_ref;
  source.root_ref = options.root_ref;
  auto kv = VaultKvSource::New(*std::move(client), source);
  if (!kv.ok()) return kv.status();
  return CachingCaOver(std::unique_ptr<MaterialSource>(*std::move(kv)),
                       context);
}

}  // namespace ca
}  // namespace vaultca
