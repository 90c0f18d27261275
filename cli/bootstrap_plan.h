#ifndef VAULTCA_CLI_BOOTSTRAP_PLAN_H_
#define VAULTCA_CLI_BOOTSTRAP_PLAN_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_data.h"

namespace vaultca {
namespace cli {

// What `vaultca bootstrap` puts in Vault, besides the CA.
struct VaultSetup {
  std::string policy_name = "allow_istiod_secrets";
  // KV v2 API path of the CA (the seed's secret/data/pki/istiod).
  std::string kv_path = "secret/data/pki/istiod";
  std::string auth_mount = "kubernetes";
  std::string role = "istiod";
  std::vector<std::string> service_accounts = {"istiod-service-account-cp-v115x"};
  std::vector<std::string> namespaces = {"istio-system"};
  std::string ttl = "1h";
  // Optional kubernetes auth configuration (auth/<mount>/config); empty
  // host: left as it is.
  std::string kubernetes_host;
  std::string kubernetes_ca_pem;
  SecretData token_reviewer_jwt;
};

// The policy exactly as the seed's Vault CR writes it, for `kv_path`.
std::string PolicyText(const VaultSetup& setup);

// The KV v2 mount ("secret") and metadata path ("secret/metadata/pki/istiod")
// of a data path; InvalidArgument when the path has no "/data/" segment.
absl::StatusOr<std::string> KvMount(absl::string_view data_path);
absl::StatusOr<std::string> KvMetadataPath(absl::string_view data_path);

// Request bodies. Each has a form to send and a form to print (key
// material redacted, certificates summarised).
std::string PolicyBody(const VaultSetup& setup);
std::string RoleBody(const VaultSetup& setup);
SecretData KubernetesConfigBody(const VaultSetup& setup);
SecretData KvWriteBody(const std::map<std::string, SecretData>& fields,
                       int64_t cas);
std::string RedactedKvWriteBody(const std::map<std::string, SecretData>& fields,
                                int64_t cas);

// Prints what `vaultca bootstrap --dry-run` shows: the policy and every
// request in order, writes marked as conditional, bodies redacted.
void PrintDryRun(const VaultSetup& setup,
                 const std::map<std::string, SecretData>& fields,
                 std::ostream& out);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_BOOTSTRAP_PLAN_H_
