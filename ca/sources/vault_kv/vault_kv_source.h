#ifndef VAULTCA_CA_SOURCES_VAULT_KV_VAULT_KV_SOURCE_H_
#define VAULTCA_CA_SOURCES_VAULT_KV_VAULT_KV_SOURCE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ca/sources/material_source.h"
#include "vault/client.h"
#include "vault/reference.h"

namespace vaultca {
namespace ca {

// Where the CA material lives in Vault KV, as bank-vaults references
// "vault:PATH#KEY[#VERSION]" (PATH is the API path: secret/data/... for KV
// v2; a VERSION pins that KV v2 version).
struct VaultKvSourceOptions {
  // The signing certificate, e.g. "vault:secret/data/pki/istiod#certificate".
  std::string cert_ref;
  // Its private key, e.g. "vault:secret/data/pki/istiod#privateKey".
  std::string key_ref;
  // Optional: the chain as in Istio's cert-chain.pem (signing cert towards
  // the root).
  std::string chain_ref;
  // Optional: the root bundle (root-cert.pem).
  std::string root_ref;
};

// CA material from Vault KV, as the seed's vault-env setup reads it, but
// re-read on every Fetch so a `vault kv put` rotates the CA.
//
// Every reference of one path#version is answered by ONE request per
// Fetch. Defaults and fallbacks follow the seed's operator:
//  - no chain and no root reference: a self-signed cert is its own root
//    (chain empty); a cert that is not self-signed is an error asking for
//    the chain/root reference;
//  - a chain but no root reference: the root is the chain's last
//    certificate when it is self-signed, else the same error;
//  - a root but no chain reference: the chain is empty.
class VaultKvSource : public MaterialSource {
 public:
  // Parses the references; InvalidArgument naming the bad one. Makes no
  // request. `client` may be shared with other users.
  static absl::StatusOr<std::unique_ptr<VaultKvSource>> New(
      std::shared_ptr<vault::VaultClient> client, VaultKvSourceOptions options);

  // Reads the references and assembles the material. Vault errors keep
  // their code (Unavailable when sealed or unreachable, PermissionDenied,
  // NotFound for a missing path or key, ...) and name the reference.
  absl::StatusOr<CaMaterialPem> Fetch() override;

  // "vault:<path>[,<path>...]" (paths with pinned versions as "#v<N>").
  std::string Description() const override;

 private:
  VaultKvSource(std::shared_ptr<vault::VaultClient> client,
                std::vector<vault::Reference> references, bool has_chain,
                bool has_root);

  const std::shared_ptr<vault::VaultClient> client_;
  // cert, key, then the chain and root when configured, in that order.
  const std::vector<vault::Reference> references_;
  const bool has_chain_;
  const bool has_root_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_VAULT_KV_VAULT_KV_SOURCE_H_
