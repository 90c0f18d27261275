#ifndef VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_VAULT_SOURCE_H_
#define VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_VAULT_SOURCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/material_source.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {

struct SelfSignedVaultSourceOptions {
  // KV v2 data path that holds the shared root, as the seed keeps the CA:
  // fields "certificate" and "privateKey". The role needs create, read and
  // update on it.
  std::string kv_path = "secret/data/vaultca/self-signed-root";
  // The root's subject is O=<trust_domain>, as istiod's self-signed root.
  std::string trust_domain = "cluster.local";
  // Algorithm of a newly generated key (istiod: RSA 2048).
  KeyType key_type = KeyType::kRsa;
  // Lifetime of a generated or renewed root (istiod: ten years).
  absl::Duration ttl = absl::Hours(24 * 365 * 10);
  // Renewed, with the same key, when less than this fraction of its life
  // remains (istiod: 20%).
  double renew_fraction = 0.2;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// istiod's self-signed root, shared by every replica through Vault KV v2
// instead of a per-pod directory, so replicas started at the same instant
// never sign under different roots. Fetch reads the secret; when there is
// none it generates a root and creates the secret with check-and-set 0, so
// exactly one writer wins and the others read the winner's root. Renewal
// (same key and subject) is a check-and-set on the version read, with the
// same outcome. A stored root that cannot be used (a key that does not
// match, garbage) is an error naming the path; it is never overwritten.
class SelfSignedVaultSource : public MaterialSource {
 public:
  // InvalidArgument for a path that is not a KV v2 data path or bad options.
  static absl::StatusOr<std::unique_ptr<SelfSignedVaultSource>> New(
      std::shared_ptr<vault::VaultClient> client,
      SelfSignedVaultSourceOptions options);

  absl::StatusOr<CaMaterialPem> Fetch() override;

  // "self-signed:vault:<kv_path>".
  std::string Description() const override;

 private:
  SelfSignedVaultSource(std::shared_ptr<vault::VaultClient> client,
                        SelfSignedVaultSourceOptions options);
  // Writes `material` with check-and-set `cas`; on a lost race, returns the
  // winner's material.
  absl::StatusOr<CaMaterialPem> WriteOrAdopt(const CaMaterialPem& material,
                                             int64_t cas, absl::string_view why);

  const std::shared_ptr<vault::VaultClient> client_;
  const SelfSignedVaultSourceOptions options_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_VAULT_SOURCE_H_
