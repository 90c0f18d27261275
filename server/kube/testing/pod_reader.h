#ifndef VAULTCA_SERVER_KUBE_TESTING_POD_READER_H_
#define VAULTCA_SERVER_KUBE_TESTING_POD_READER_H_

// Test-only: the Kubernetes identity vaultca-server runs as, on a RealKube.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/kube/kube_api.h"
#include "server/kube/testing/real_kube.h"

namespace vaultca {
namespace server {
namespace testing {

// Creates service account ns/name (and namespace ns) with a ClusterRole
// allowing `verbs` on pods in every namespace, as a deployment grants
// vaultca-server, and returns a client that presents a token of that
// account (written under kube.dir()). Names must be new to the cluster.
absl::StatusOr<std::shared_ptr<const KubeApiClient>> NewPodReader(
    const RealKube& kube, const std::string& ns, const std::string& name,
    const std::vector<std::string>& verbs = {"get", "list", "watch"},
    absl::Duration timeout = absl::Seconds(10));

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_KUBE_TESTING_POD_READER_H_
