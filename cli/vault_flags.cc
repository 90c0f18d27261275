#include "cli/vault_flags.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/sources/vault_kv/vault_kv_factory.h"
#include "server/config.h"
#include "vault/reference.h"

namespace vaultca {
namespace cli {

void VaultFlags::RegisterConnection(FlagSet* flags, bool login_role) {
  flags->String("vault-addr", &address, "Vault address (env VAULT_ADDR)");
  flags->String("vault-cacert", &ca_cert,
                "PEM bundle Vault's certificate must verify against (env "
                "VAULT_CACERT)");
  flags->String("vault-namespace", &vault_namespace,
                "Vault Enterprise namespace (env VAULT_NAMESPACE)");
  flags->String("auth-method", &auth_method,
                "token, kubernetes, jwt, approle or cert (env "
                "VAULT_AUTH_METHOD; default: token when a token is given, "
                "kubernetes when a role is)");
  if (login_role) {
    flags->String("role", &role,
                  "Vault role for kubernetes/jwt logins (env VAULT_ROLE)");
  }
  flags->String("auth-mount", &auth_mount,
                "auth mount path (env VAULT_PATH; default: the method's name)");
  flags->String("jwt-file", &jwt_file,
                "service-account token for kubernetes auth, re-read at every "
                "login (env VAULT_JWT_FILE; default "
                "/var/run/secrets/kubernetes.io/serviceaccount/token)");
  flags->String("token-file", &token_file,
                "file holding a Vault token (env VAULT_TOKEN_FILE; or env "
                "VAULT_TOKEN)");
}

void VaultFlags::RegisterReferences(FlagSet* flags) {
  flags->String("config", &config_file,
                "vaultca.yaml whose ca.vault block names the references");
  flags->String("cert-ref", &cert_ref,
                "signing certificate (default "
                "vault:secret/data/pki/istiod#certificate)");
  flags->String("key-ref", &key_ref,
                "its private key (default "
                "vault:secret/data/pki/istiod#privateKey)");
  flags->String("chain-ref", &chain_ref,
                "chain as in cert-chain.pem (default: the certChain field "
                "beside the certificate when present)");
  flags->String("root-ref", &root_ref,
                "root bundle (default: the rootCert field beside the "
                "certificate when present)");
}

absl::StatusOr<vault::VaultConfig> BuildVaultConfig(const VaultFlags& flags,
                                                    const vault::EnvLookup& env) {
  std::map<std::string, std::string> overlay;
  auto set = [&](const char* name, const std::string& value) {
    if (!value.empty()) overlay[name] = value;
  };
  set("VAULT_ADDR", flags.address);
  set("VAULT_CACERT", flags.ca_cert);
  set("VAULT_NAMESPACE", flags.vault_namespace);
  set("VAULT_ROLE", flags.role);
  set("VAULT_PATH", flags.auth_mount);
  set("VAULT_JWT_FILE", flags.jwt_file);
  set("VAULT_TOKEN_FILE", flags.token_file);
  std::string method = flags.auth_method;
  if (method.empty() && !flags.jwt_file.empty() && flags.token_file.empty()) {
    method = "kubernetes";
  }
  if (method.empty() && !flags.token_file.empty()) method = "token";
  set("VAULT_AUTH_METHOD", method);
  // A token given on the command line wins over one in the environment.
  const bool hide_env_token = !flags.token_file.empty();
  absl::StatusOr<vault::VaultConfig> config = vault::ConfigFromEnvironment(
      [&](absl::string_view name) -> std::optional<std::string> {
        auto it = overlay.find(std::string(name));
        if (it != overlay.end()) return it->second;
        if (hide_env_token && name == "VAULT_TOKEN") return std::nullopt;
        return env(name);
      });
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Vault settings: ", config.status().message()));
  }
  return config;
}

absl::StatusOr<MaterialLocation> ResolveMaterialLocation(const VaultFlags& flags) {
  MaterialLocation location;
  location.refs.cert_ref = absl::StrCat("vault:", kSeedPath, "#", kCertField);
  location.refs.key_ref = absl::StrCat("vault:", kSeedPath, "#", kKeyField);
  if (!flags.config_file.empty()) {
    absl::StatusOr<server::ServerConfig> config =
        server::LoadServerConfigFile(flags.config_file);
    if (!config.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--config ", flags.config_file, ": ", config.status().message()));
    }
    const ca::VaultKvSourceConfig& vault =
        config->ca.source_options.Get<ca::VaultKvSourceConfig>();
    location.refs.cert_ref = vault.cert_ref;
    location.refs.key_ref = vault.key_ref;
    location.refs.chain_ref = vault.chain_ref;
    location.refs.root_ref = vault.root_ref;
  }
  auto set = [](const std::string& value, std::string* field) {
    if (!value.empty()) *field = value;
  };
  set(flags.cert_ref, &location.refs.cert_ref);
  set(flags.key_ref, &location.refs.key_ref);
  set(flags.chain_ref, &location.refs.chain_ref);
  set(flags.root_ref, &location.refs.root_ref);
  location.auto_chain_root =
      location.refs.chain_ref.empty() && location.refs.root_ref.empty();
  for (const std::string* ref : {&location.refs.cert_ref, &location.refs.key_ref}) {
    if (absl::StatusOr<vault::Reference> parsed = vault::ParseReference(*ref);
        !parsed.ok()) {
      return absl::InvalidArgumentError(parsed.status().message());
    }
  }
  return location;
}

absl::StatusOr<ca::CaMaterialPem> FetchMaterial(
    const std::shared_ptr<vault::VaultClient>& client,
    const MaterialLocation& location) {
  ca::VaultKvSourceOptions refs = location.refs;
  if (location.auto_chain_root) {
    absl::StatusOr<vault::Reference> cert = vault::ParseReference(refs.cert_ref);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<vault::KvSecret> secret = client->ReadKv(cert->path, cert->version);
    if (!secret.ok()) return secret.status();
    vault::Reference other = *cert;
    if (secret->values.count(kChainField) > 0) {
      other.key = kChainField;
      refs.chain_ref = other.ToString();
    }
    if (secret->values.count(kRootField) > 0) {
      other.key = kRootField;
      refs.root_ref = other.ToString();
    }
  }
  absl::StatusOr<std::unique_ptr<ca::VaultKvSource>> source =
      ca::VaultKvSource::New(client, refs);
  if (!source.ok()) return source.status();
  return (*source)->Fetch();
}

std::string VaultErrorHint(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return " (the token or role lacks permission: grant read on the path "
             "in the role's policy, e.g. with `vaultca bootstrap`)";
    case absl::StatusCode::kNotFound:
      return " (nothing at that path or key: write the CA with `vaultca "
             "bootstrap`, or fix the reference)";
    case absl::StatusCode::kUnavailable:
      return " (Vault is unreachable or sealed: check the address, TLS and "
             "its status)";
    default:
      return "";
  }
}

absl::StatusOr<std::unique_ptr<vault::VaultClient>> NewVaultClient(
    const VaultFlags& flags, const vault::EnvLookup& env,
    bool renew_in_background, std::function<void(absl::string_view)> warn) {
  absl::StatusOr<vault::VaultConfig> config = BuildVaultConfig(flags, env);
  if (!config.ok()) return config.status();
  vault::ClientOptions options;
  options.background_renewal = renew_in_background;
  if (warn) options.warn = std::move(warn);
  return vault::VaultClient::New(*config, std::move(options));
}

}  // namespace cli
}  // namespace vaultca
