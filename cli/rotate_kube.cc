#include "cli/rotate_kube.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/rotate_state.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace cli {
namespace {

std::string QueryEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

// LISTs `path` (which has a query already) page by page.
absl::Status ListAll(const server::KubeApiClient& kube, const std::string& path,
                     const std::function<void(const nlohmann::json&)>& on_item) {
  std::string next;
  do {
    std::string page = absl::StrCat(path, "&limit=500");
    if (!next.empty()) absl::StrAppend(&page, "&continue=", QueryEscape(next));
    absl::StatusOr<server::KubeApiResponse> r = kube.Get(page);
    if (!r.ok()) return r.status();
    if (r->http_status != 200) {
      const std::string what =
          absl::StrCat("GET ", page, " on ", kube.address(), ": HTTP ", r->http_status,
                       " ", r->body.substr(0, 200));
      return r->http_status == 401 || r->http_status == 403
                 ? absl::PermissionDeniedError(absl::StrCat(
                       what, " (the token needs list on namespaces and configmaps)"))
                 : absl::UnavailableError(what);
    }
    nlohmann::json list = nlohmann::json::parse(r->body, nullptr, false);
    if (!list.is_object()) {
      return absl::UnavailableError(absl::StrCat("GET ", page, ": not JSON"));
    }
    for (const auto& item : list.value("items", nlohmann::json::array())) on_item(item);
    next = list.value("metadata", nlohmann::json::object()).value("continue", "");
  } while (!next.empty());
  return absl::OkStatus();
}

}  // namespace

absl::Status SetTrustPublisher(absl::string_view publisher, TrustBundleTarget* target) {
  if (publisher == "vaultca") {
    target->skip_namespaces.clear();
  } else if (publisher == "istiod") {
    // istiod's namespace controller skips inject.IgnoredNamespaces except
    // kube-system (pilot/pkg/serviceregistry/kube/controller/
    // namespacecontroller.go); waiting for those would never end.
    target->skip_namespaces = {"kube-node-lease", "kube-public", "local-path-storage"};
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--publisher ", publisher, ": use vaultca (vaultca-server writes ",
        target->configmap_name, ") or istiod (istiod is the CA and writes it)"));
  }
  target->publisher = std::string(publisher);
  return absl::OkStatus();
}

std::string TrustPropagation::Summary() const {
  if (lagging.empty()) return absl::StrCat(namespaces, " namespaces");
  std::vector<std::string> shown(lagging.begin(),
                                 lagging.begin() + std::min<size_t>(lagging.size(), 5));
  return absl::StrCat(lagging.size(), " of ", namespaces, " namespaces (",
                      absl::StrJoin(shown, ", "), lagging.size() > 5 ? ", ..." : "", ")");
}

absl::StatusOr<TrustPropagation> CheckTrustPropagation(
    const server::KubeApiClient& kube, const TrustBundleTarget& target,
    absl::string_view roots_pem) {
  std::set<std::string> live;
  std::string ns_path = "/api/v1/namespaces?";
  if (!target.namespace_selector.empty()) {
    absl::StrAppend(&ns_path, "labelSelector=", QueryEscape(target.namespace_selector));
  }
  if (absl::Status s = ListAll(kube, ns_path, [&](const nlohmann::json& ns) {
        // A terminating namespace gets no new pods and the publisher
        // leaves it alone.
        const std::string phase =
            ns.value("status", nlohmann::json::object()).value("phase", "");
        if (phase == "Terminating") return;
        const std::string name =
            ns.value("metadata", nlohmann::json::object()).value("name", "");
        if (std::find(target.skip_namespaces.begin(), target.skip_namespaces.end(), name) !=
            target.skip_namespaces.end()) {
          return;
        }
        live.insert(name);
      });
      !s.ok()) {
    return s;
  }
  std::map<std::string, std::string> bundles;
  if (absl::Status s = ListAll(
          kube,
          absl::StrCat("/api/v1/configmaps?fieldSelector=",
                       QueryEscape(absl::StrCat("metadata.name=", target.configmap_name))),
          [&](const nlohmann::json& cm) {
            const nlohmann::json data = cm.value("data", nlohmann::json::object());
            bundles[cm.value("metadata", nlohmann::json::object()).value("namespace", "")] =
                data.is_object() ? data.value(target.data_key, "") : "";
          });
      !s.ok()) {
    return s;
  }
  TrustPropagation result;
  result.namespaces = static_cast<int>(live.size());
  for (const std::string& ns : live) {
    auto it = bundles.find(ns);
    if (it == bundles.end() || !HoldsAll(it->second, roots_pem)) {
      result.lagging.push_back(ns);
    }
  }
  return result;
}

}  // namespace cli
}  // namespace vaultca
