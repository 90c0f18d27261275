#include "server/auth/kube_node_authorizer.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {
namespace {

using Json = nlohmann::json;

// Reads a nested string member, "" when absent.
std::string Field(const Json& object, const char* outer, const char* inner) {
  auto o = object.find(outer);
  if (o == object.end() || !o->is_object()) return "";
  auto i = o->find(inner);
  if (i == o->end() || !i->is_string()) return "";
  return i->get<std::string>();
}

absl::StatusOr<Json> GetJson(const KubeApiClient& api, const std::string& path,
                             absl::string_view what) {
  absl::StatusOr<KubeApiResponse> response = api.Get(path);
  if (!response.ok()) return response.status();
  if (response->http_status == 404) {
    return absl::PermissionDeniedError(absl::StrCat(what, " not found"));
  }
  if (response->http_status != 200) {
    return absl::UnavailableError(absl::StrCat(
        "reading ", what, " from the Kubernetes API failed with HTTP ",
        response->http_status, "; vaultca-server needs get/list on pods"));
  }
  Json body = Json::parse(response->body, nullptr, false);
  if (!body.is_object()) {
    return absl::UnavailableError(absl::StrCat(what, ": answer is not JSON"));
  }
  return body;
}

}  // namespace

absl::Status KubeNodeAuthorizer::Authorize(const Caller& node,
                                           const ServiceAccountRef& target) {
  if (node.pod_name.empty() || node.pod_uid.empty()) {
    return absl::PermissionDeniedError(
        "the caller's token is not bound to a pod, so its node is unknown");
  }
  absl::StatusOr<Json> pod = GetJson(
      *api_,
      absl::StrCat("/api/v1/namespaces/", node.kube_namespace, "/pods/",
                   node.pod_name),
      absl::StrCat("caller pod ", node.kube_namespace, "/", node.pod_name));
  if (!pod.ok()) return pod.status();
  if (Field(*pod, "metadata", "uid") != node.pod_uid) {
    return absl::PermissionDeniedError(
        "the caller pod's uid does not match its token (pod replaced?)");
  }
  if (Field(*pod, "spec", "serviceAccountName") != node.service_account) {
    return absl::PermissionDeniedError(
        "the caller pod runs under another service account than its token");
  }
  const std::string node_name = Field(*pod, "spec", "nodeName");
  if (node_name.empty()) {
    return absl::PermissionDeniedError("the caller pod is not on a node");
  }
  absl::StatusOr<Json> pods = GetJson(
      *api_,
      absl::StrCat("/api/v1/namespaces/", target.kube_namespace,
                   "/pods?fieldSelector=spec.nodeName%3D", node_name),
      absl::StrCat("pods of namespace ", target.kube_namespace));
  if (!pods.ok()) return pods.status();
  auto items = pods->find("items");
  if (items != pods->end() && items->is_array()) {
    for (const Json& item : *items) {
      if (!item.is_object()) continue;
      if (Field(item, "spec", "serviceAccountName") == target.name &&
          Field(item, "spec", "nodeName") == node_name &&
          Field(item, "status", "phase") == "Running") {
        return absl::OkStatus();
      }
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "no running pod of ", target.kube_namespace, "/", target.name,
      " on node ", node_name));
}

}  // namespace server
}  // namespace vaultca
