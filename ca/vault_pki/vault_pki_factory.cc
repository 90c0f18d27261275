#include "ca/vault_pki/vault_pki_factory.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/vault_pki/managed_vault_pki_ca.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {

void VaultPkiFactory::ReadOptions(ConfigBlock& block,
                                  VaultPkiConfig* options) const {
  block.String("mount", &options->mount);
  block.String("role", &options->role);
  block.String("endpoint", &options->endpoint);
  block.String("issuer", &options->issuer);
  block.String("root_cert_file", &options->root_cert_file);
}

void VaultPkiFactory::ReadEnvironmentOptions(EnvironmentBlock& env,
                                             VaultPkiConfig* options) const {
  env.String("VAULTCA_VAULT_PKI_MOUNT", &options->mount);
  env.String("VAULTCA_VAULT_PKI_ROLE", &options->role);
  env.String("VAULTCA_VAULT_PKI_ENDPOINT", &options->endpoint);
  env.String("VAULTCA_VAULT_PKI_ISSUER", &options->issuer);
  env.String("VAULTCA_VAULT_PKI_ROOT_CERT_FILE", &options->root_cert_file);
}

absl::Status VaultPkiFactory::ValidateOptions(
    const VaultPkiConfig& options) const {
  if (options.mount.empty()) {
    return InvalidOptionError(
        "ca.vault_pki.mount (VAULTCA_VAULT_PKI_MOUNT)",
        "must name the PKI secrets engine's mount, e.g. pki_int");
  }
  if (options.endpoint != "sign" && options.endpoint != "sign-verbatim") {
    return InvalidOptionError(
        "ca.vault_pki.endpoint (VAULTCA_VAULT_PKI_ENDPOINT)",
        absl::StrCat("'", options.endpoint, "' is not sign or sign-verbatim"));
  }
  if (options.endpoint == "sign" && options.role.empty()) {
    return InvalidOptionError("ca.vault_pki.role (VAULTCA_VAULT_PKI_ROLE)",
                              "is required with the sign endpoint: the Vault "
                              "role allowed to issue the mesh's SPIFFE ids");
  }
  if (options.endpoint == "sign-verbatim" && !options.issuer.empty()) {
    return InvalidOptionError("ca.vault_pki.issuer",
                              "is only supported with the sign endpoint");
  }
  return absl::OkStatus();
}

std::string VaultPkiFactory::DescribeOptions(
    const VaultPkiConfig& options) const {
  return absl::StrCat("vault-pki:", options.mount, "/", options.role);
}

absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>>
VaultPkiFactory::CreateCa(const VaultPkiConfig& options,
                          const CaSourceContext& context) const {
  ManagedVaultPkiCaOptions pki;
  pki.pki.mount = options.mount;
  pki.pki.role = options.role;
  pki.pki.issuer = options.issuer;
  pki.pki.endpoint = options.endpoint == "sign-verbatim"
                         ? VaultPkiEndpoint::kSignVerbatim
                         : VaultPkiEndpoint::kSign;
  if (!options.root_cert_file.empty()) {
    std::ifstream in(options.root_cert_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat(
          "ca.vault_pki.root_cert_file: cannot read ", options.root_cert_file));
    }
    std::ostringstream text;
    text << in.rdbuf();
    pki.pki.root_bundle_pem = text.str();
  }
  // The caching CA's request policy, refresh and start-up settings; the
  // roots are pinned by file or read from Vault.
  const CachingCaOptions& caching = context.caching;
  pki.pki.policy = caching.policy;
  pki.refresh_interval = caching.refresh_interval;
  pki.max_staleness = caching.max_staleness;
  pki.startup_policy = caching.startup_policy;
  pki.startup_deadline = caching.startup_deadline;
  auto client = context.vault_client();
  if (!client.ok()) return client.status();
  auto ca = ManagedVaultPkiCa::New(*std::move(client), std::move(pki));
  if (!ca.ok()) return ca.status();
  return std::unique_ptr<ManagedCertificateAuthority>(*std::move(ca));
}

}  // namespace ca
}  // namespace vaultca
