#ifndef VAULTCA_CLI_BOOTSTRAP_MATERIAL_H_
#define VAULTCA_CLI_BOOTSTRAP_MATERIAL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace cli {

// Where `vaultca bootstrap` takes the CA from: files to import, or a new
// root and intermediate.
struct MaterialInput {
  // Import: the signing certificate (it may be followed by its chain), its
  // key, and optionally the chain (cert-chain.pem) and the root bundle.
  std::string cert_file;
  std::string key_file;
  std::string chain_file;
  std::string root_file;
  // Generate (when cert_file is empty): "ec-p256" or "rsa-2048" for both
  // the root and the intermediate.
  std::string key_type = "ec-p256";
  std::string organization = "cluster.local";
  absl::Duration root_ttl = absl::Hours(24 * 365 * 10);
  absl::Duration intermediate_ttl = absl::Hours(24 * 365);
  absl::Time now = absl::Now();
};

// Reads or generates the material. Imported material without a root file
// takes its root from the last certificate of the chain or of the
// certificate file when that one is self-signed. InvalidArgument naming
// the file or flag to fix. The material is not validated here. When it
// generates and `root_key` is not null, the new root's key (PEM) goes
// there: the operator keeps it offline to sign later intermediates.
absl::StatusOr<ca::CaMaterialPem> LoadOrGenerateMaterial(
    const MaterialInput& input, SecretData* root_key = nullptr);

// Writes a CA key to a new file (0600, fsynced) named by `flag`; never
// replaces a file, which could hold the key of the root in service.
// FailedPrecondition when `path` exists; a failed write leaves no file.
absl::Status WriteNewKeyFile(const std::string& flag, const std::string& path,
                             const SecretData& key);

// The KV fields vaultca writes for `material`: certificate and privateKey
// (the seed's names), certChain when there is a chain, and rootCert.
std::map<std::string, SecretData> MaterialFields(const ca::CaMaterialPem& material);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_BOOTSTRAP_MATERIAL_H_
