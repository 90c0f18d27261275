#ifndef VAULTCA_CLI_VAULT_FLAGS_H_
#define VAULTCA_CLI_VAULT_FLAGS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/vault_kv/vault_kv_source.h"
#include "cli/flags.h"
#include "vault/client.h"
#include "vault/config.h"

namespace vaultca {
namespace cli {

// The seed's KV v2 path of the CA and the field names vaultca writes and
// reads there (the first two are the seed's own).
inline constexpr char kSeedPath[] = "secret/data/pki/istiod";
inline constexpr char kCertField[] = "certificate";
inline constexpr char kKeyField[] = "privateKey";
inline constexpr char kChainField[] = "certChain";
inline constexpr char kRootField[] = "rootCert";

// How a subcommand reaches Vault and where the CA material is. Flags
// overlay the standard VAULT_* environment (vault/config.h), so every
// setting the Vault CLI and vault-env understand works here too.
struct VaultFlags {
  std::string address;      // VAULT_ADDR
  std::string ca_cert;      // VAULT_CACERT
  std::string auth_method;  // VAULT_AUTH_METHOD
  std::string role;         // VAULT_ROLE
  std::string auth_mount;   // VAULT_PATH
  std::string jwt_file;     // VAULT_JWT_FILE
  std::string token_file;   // VAULT_TOKEN_FILE
  std::string vault_namespace;  // VAULT_NAMESPACE

  // A vaultca.yaml whose ca.vault block gives the references.
  std::string config_file;
  std::string cert_ref;
  std::string key_ref;
  std::string chain_ref;
  std::string root_ref;

  // Registers the connection and login flags; --role only with
  // `login_role` (bootstrap uses --role for the role it creates).
  void RegisterConnection(FlagSet* flags, bool login_role = true);
  // Registers --config and the four references.
  void RegisterReferences(FlagSet* flags);
};

// Returns the Vault configuration: `env` overlaid with the flags, checked
// by vault::ValidateConfig. --jwt-file alone selects kubernetes auth and
// --token-file alone token auth. InvalidArgument naming the flag or
// variable to fix.
absl::StatusOr<vault::VaultConfig> BuildVaultConfig(const VaultFlags& flags,
                                                    const vault::EnvLookup& env);

// The Vault client of one command run, configured by BuildVaultConfig. A
// command that makes a few calls and exits renews nothing in the
// background; a loop asks for `renew_in_background`. `warn` receives the
// client's warnings (none secret); null: stderr. Errors as
// BuildVaultConfig's, or an unreadable CA or client-certificate file.
absl::StatusOr<std::unique_ptr<vault::VaultClient>> NewVaultClient(
    const VaultFlags& flags, const vault::EnvLookup& env,
    bool renew_in_background = false,
    std::function<void(absl::string_view)> warn = nullptr);

// Where the material is: the seed's references, overridden by the
// --config file's ca.vault block, overridden by the reference flags. When
// neither names a chain or a root reference, `auto_chain_root` is set:
// FetchMaterial then uses the certChain/rootCert fields that `vaultca
// bootstrap` writes beside the certificate, if they are there.
struct MaterialLocation {
  ca::VaultKvSourceOptions refs;
  bool auto_chain_root = false;
};
absl::StatusOr<MaterialLocation> ResolveMaterialLocation(const VaultFlags& flags);

// Reads the material from Vault through ca::VaultKvSource (the same
// reading and fallbacks as vaultca-server's Vault source). Errors keep
// Vault's code (PermissionDenied, NotFound, Unavailable, ...).
absl::StatusOr<ca::CaMaterialPem> FetchMaterial(
    const std::shared_ptr<vault::VaultClient>& client,
    const MaterialLocation& location);

// Returns what to do about a Vault error, to append to its message.
std::string VaultErrorHint(const absl::Status& status);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_VAULT_FLAGS_H_
