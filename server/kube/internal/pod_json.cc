#include "server/kube/internal/pod_json.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using Json = nlohmann::json;

// A nested string member, "" when absent or not a string.
std::string Field(const Json& object, const char* outer, const char* inner) {
  auto o = object.find(outer);
  if (o == object.end() || !o->is_object()) return "";
  auto i = o->find(inner);
  if (i == o->end() || !i->is_string()) return "";
  return i->get<std::string>();
}

absl::StatusOr<PodInfo> PodFromJson(const Json& object) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError("a pod is not a JSON object");
  }
  PodInfo pod;
  pod.kube_namespace = Field(object, "metadata", "namespace");
  pod.name = Field(object, "metadata", "name");
  pod.uid = Field(object, "metadata", "uid");
  if (pod.kube_namespace.empty() || pod.name.empty() || pod.uid.empty()) {
    return absl::InvalidArgumentError(
        "a pod without metadata.namespace, metadata.name or metadata.uid");
  }
  pod.service_account = Field(object, "spec", "serviceAccountName");
  pod.node = Field(object, "spec", "nodeName");
  pod.phase = Field(object, "status", "phase");
  return pod;
}

}  // namespace

absl::StatusOr<PodListPage> ParsePodListPage(absl::string_view body) {
  Json list = Json::parse(body.begin(), body.end(), nullptr, false);
  if (!list.is_object()) {
    return absl::InvalidArgumentError("the pod list is not a JSON object");
  }
  PodListPage page;
  page.resource_version = Field(list, "metadata", "resourceVersion");
  page.continue_token = Field(list, "metadata", "continue");
  if (page.resource_version.empty()) {
    return absl::InvalidArgumentError(
        "the pod list has no metadata.resourceVersion");
  }
  auto items = list.find("items");
  if (items == list.end() || items->is_null()) return page;
  if (!items->is_array()) {
    return absl::InvalidArgumentError("the pod list's items is not an array");
  }
  page.pods.reserve(items->size());
  for (const Json& item : *items) {
    absl::StatusOr<PodInfo> pod = PodFromJson(item);
    if (!pod.ok()) return pod.status();
    page.pods.push_back(*std::move(pod));
  }
  return page;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view line) {
  Json event = Json::parse(line.begin(), line.end(), nullptr, false);
  if (!event.is_object()) {
    return absl::InvalidArgumentError("a watch event is not a JSON object");
  }
  auto type = event.find("type");
  auto object = event.find("object");
  if (type == event.end() || !type->is_string() || object == event.end() ||
      !object->is_object()) {
    return absl::InvalidArgumentError(
        "a watch event without a type or an object");
  }
  const std::string& name = type->get_ref<const std::string&>();
  WatchEvent out;
  if (name == "ERROR") {
    out.type = WatchEvent::Type::kError;
    auto code = object->find("code");
    if (code != object->end() && code->is_number_integer()) {
      out.error_code = code->get<int>();
    }
    auto message = object->find("message");
    if (message != object->end() && message->is_string()) {
      out.error_message = message->get<std::string>();
    }
    return out;
  }
  out.resource_version = Field(*object, "metadata", "resourceVersion");
  if (out.resource_version.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", name, " event without a resourceVersion"));
  }
  if (name == "BOOKMARK") {
    out.type = WatchEvent::Type::kBookmark;
    return out;
  }
  if (name == "ADDED") {
    out.type = WatchEvent::Type::kAdded;
  } else if (name == "MODIFIED") {
    out.type = WatchEvent::Type::kModified;
  } else if (name == "DELETED") {
    out.type = WatchEvent::Type::kDeleted;
  } else {
    return absl::InvalidArgumentError("a watch event of an unknown type");
  }
  absl::StatusOr<PodInfo> pod = PodFromJson(*object);
  if (!pod.ok()) return pod.status();
  out.pod = *std::move(pod);
  return out;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
