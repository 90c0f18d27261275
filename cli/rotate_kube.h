#ifndef VAULTCA_CLI_ROTATE_KUBE_H_
#define VAULTCA_CLI_ROTATE_KUBE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace cli {

// Which namespaces' root ConfigMap to look at; vaultca-server's
// mesh.root_configmap names.
struct TrustBundleTarget {
  std::string configmap_name = "istio-ca-root-cert";
  std::string data_key = "root-cert.pem";
  // Label selector of the namespaces the publisher serves; empty: all.
  std::string namespace_selector;
  // Who writes the ConfigMap (kPublishers): it decides which namespaces
  // are waited for and what a lagging one is told.
  std::string publisher = "vaultca";
  // Namespaces the publisher never writes to, so never waited for.
  std::vector<std::string> skip_namespaces;
};

// The publishers `vaultca rotate root --publisher` knows: "vaultca"
// (vaultca-server's mesh.root_configmap: every selected namespace) and
// "istiod" (istiod as the CA: every namespace but the system ones its
// namespace controller leaves alone: kube-public, kube-node-lease,
// local-path-storage).
// Sets target's publisher and skip_namespaces; InvalidArgument naming the
// choices for any other name.
absl::Status SetTrustPublisher(absl::string_view publisher, TrustBundleTarget* target);

// What the cluster's workloads trust right now.
struct TrustPropagation {
  // Selected namespaces that are not terminating.
  int namespaces = 0;
  // Those whose ConfigMap is missing or lacks a wanted root, sorted.
  std::vector<std::string> lagging;

  bool complete() const { return lagging.empty(); }
  // "12 namespaces" or "3 of 12 namespaces (apps, b, c, ...)".
  std::string Summary() const;
};

// Lists the selected namespaces and the ConfigMap across the cluster (two
// paginated LISTs, whatever the namespace count) and finds every namespace
// whose ConfigMap does not hold all certificates of `roots_pem`. The
// client needs list on namespaces and configmaps cluster-wide. An HTTP
// error is Unavailable or PermissionDenied naming the request.
absl::StatusOr<TrustPropagation> CheckTrustPropagation(
    const server::KubeApiClient& kube, const TrustBundleTarget& target,
    absl::string_view roots_pem);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_ROTATE_KUBE_H_
