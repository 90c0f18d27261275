#include "server/kube/testing/pod_reader.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {
namespace testing {

absl::StatusOr<std::shared_ptr<const KubeApiClient>> NewPodReader(
    const RealKube& kube, const std::string& ns, const std::string& name,
    const std::vector<std::string>& verbs, absl::Duration timeout) {
  if (absl::Status s = kube.CreateNamespace(ns); !s.ok()) return s;
  if (absl::Status s = kube.CreateServiceAccount(ns, name); !s.ok()) return s;
  const std::string role = absl::StrCat(ns, "-", name, "-pods");
  const nlohmann::json cluster_role = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRole"},
      {"metadata", {{"name", role}}},
      {"rules",
       nlohmann::json::array({{{"apiGroups", {""}},
                               {"resources", {"pods"}},
                               {"verbs", verbs}}})}};
  absl::StatusOr<nlohmann::json> created = kube.Call(
      "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", &cluster_role);
  if (!created.ok()) return created.status();
  if (absl::Status s = kube.BindClusterRole(role, role, ns, name); !s.ok()) {
    return s;
  }
  RealKube::TokenOptions token_options;
  token_options.ttl = absl::Hours(2);
  absl::StatusOr<std::string> token =
      kube.RequestToken(ns, name, token_options);
  if (!token.ok()) return token.status();
  const std::string token_file =
      absl::StrCat(kube.dir(), "/", ns, "-", name, "-token");
  {
    std::ofstream out(token_file, std::ios::trunc);
    out << *token;
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", token_file));
    }
  }
  KubeApiOptions options;
  options.api_server = kube.address();
  options.ca_file = kube.ca_file();
  options.token_file = token_file;
  options.timeout = timeout;
  absl::StatusOr<std::unique_ptr<KubeApiClient>> client =
      KubeApiClient::New(options);
  if (!client.ok()) return client.status();
  return std::shared_ptr<const KubeApiClient>(*std::move(client));
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
