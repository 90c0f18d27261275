#ifndef VAULTCA_CLI_CACERTS_TARGET_H_
#define VAULTCA_CLI_CACERTS_TARGET_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace cli {

// istiod's plug-in CA file names (ROOT_CA_DIR, the `cacerts` Secret).
inline constexpr char kCaCertFile[] = "ca-cert.pem";
inline constexpr char kCaKeyFile[] = "ca-key.pem";
inline constexpr char kCertChainFile[] = "cert-chain.pem";
inline constexpr char kRootCertFile[] = "root-cert.pem";

// The four cacerts entries for `material`, as istiod reads them:
// cert-chain.pem is the chain from the signing certificate towards the
// root, or the signing certificate alone when it is its own root (what
// vault-env writes when no chain path is set).
std::map<std::string, SecretData> CacertsEntries(const ca::CaMaterialPem& material);

// The material the four entries hold. FailedPrecondition naming the
// missing entry.
absl::StatusOr<ca::CaMaterialPem> MaterialFromEntries(
    const std::map<std::string, SecretData>& entries);

// Where `vaultca sync` puts istiod's cacerts: a directory or a Secret.
class CacertsTarget {
 public:
  virtual ~CacertsTarget() = default;
  // The entries written now; nullopt when there are none yet.
  virtual absl::StatusOr<std::optional<std::map<std::string, SecretData>>> Read() = 0;
  // Replaces the entries in one step: a reader sees all old or all new.
  // Conditioned on what the last Read saw where the target supports it.
  virtual absl::Status Write(const std::map<std::string, SecretData>& entries) = 0;
  // "dir:/etc/cacerts", "secret:istio-system/cacerts". Never secret.
  virtual std::string Description() const = 0;
};

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_CACERTS_TARGET_H_
