#ifndef VAULTCA_SERVER_AUTH_SPIFFE_H_
#define VAULTCA_SERVER_AUTH_SPIFFE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace server {

// A Kubernetes service account.
struct ServiceAccountRef {
  std::string kube_namespace;
  std::string name;
};

// Returns "spiffe://<trust_domain>/ns/<namespace>/sa/<name>", Istio's
// workload identity.
std::string SpiffeIdForServiceAccount(absl::string_view trust_domain,
                                      const ServiceAccountRef& account);

// Parses a Kubernetes service-account user name,
// "system:serviceaccount:<namespace>:<name>". InvalidArgument for anything
// else: the namespace must be a DNS-1123 label and the name a DNS-1123
// subdomain (IsDns1123Label, IsDns1123Subdomain), as Kubernetes requires, so
// both are safe in API paths.
absl::StatusOr<ServiceAccountRef> ParseServiceAccountUser(
    absl::string_view username);

// Parses "spiffe://<td>/ns/<namespace>/sa/<name>". InvalidArgument for any
// other shape, for a trust domain outside SPIFFE's [a-z0-9._-], and for
// names Kubernetes would refuse (as in ParseServiceAccountUser).
absl::StatusOr<ServiceAccountRef> ParseSpiffeServiceAccount(
    absl::string_view spiffe_id, std::string* trust_domain = nullptr);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_SPIFFE_H_
