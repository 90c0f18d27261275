#include "cli/cacerts_secret.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/internal/json_secret.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace cli {
namespace {

// The API server's answer holds the key (base64): wipe it once read.
void Wipe(std::string* text) {
  ::vaultca::internal::SecureWipe(text->data(), text->size());
  text->clear();
}

}  // namespace

std::string CacertsSecret::Path() const {
  return absl::StrCat("/api/v1/namespaces/", ns_, "/secrets/", name_);
}

absl::Status CacertsSecret::HttpError(const char* verb,
                                      const server::KubeApiResponse& r) const {
  nlohmann::json status = nlohmann::json::parse(r.body, nullptr, false);
  const std::string message =
      status.is_object() ? status.value("message", "") : std::string();
  const std::string what = absl::StrCat(verb, " ", Description(), ": HTTP ",
                                        r.http_status, message.empty() ? "" : ": ",
                                        message);
  switch (r.http_status) {
    case 401:
    case 403:
      return absl::PermissionDeniedError(absl::StrCat(
          what, " (sync's service account needs get, create and update on "
                "secrets in ", ns_, ")"));
    case 409:
      return absl::AbortedError(absl::StrCat(
          what, " (the Secret changed since it was read: nothing was "
                "overwritten; the next round reads it again)"));
    default:
      return absl::UnavailableError(what);
  }
}

absl::StatusOr<std::optional<std::map<std::string, SecretData>>> CacertsSecret::Read() {
  absl::StatusOr<server::KubeApiResponse> r = kube_->Get(Path());
  if (!r.ok()) return r.status();
  if (r->http_status == 404) {
    resource_version_.clear();
    return std::optional<std::map<std::string, SecretData>>();
  }
  if (r->http_status != 200) return HttpError("GET", *r);
  nlohmann::json object = nlohmann::json::parse(r->body, nullptr, false);
  Wipe(&r->body);
  if (!object.is_object()) {
    return absl::UnavailableError(absl::StrCat("GET ", Description(), ": not JSON"));
  }
  resource_version_ = object["metadata"].value("resourceVersion", "");
  std::map<std::string, SecretData> entries;
  const nlohmann::json data = object.value("data", nlohmann::json::object());
  for (const char* name : {kCaCertFile, kCaKeyFile, kCertChainFile, kRootCertFile}) {
    if (!data.contains(name) || !data[name].is_string()) continue;
    std::string decoded;
    if (!absl::Base64Unescape(data[name].get<std::string>(), &decoded)) {
      return absl::FailedPreconditionError(
          absl::StrCat(Description(), ": ", name, " is not base64"));
    }
    entries[name] = SecretData(decoded);
    Wipe(&decoded);
  }
  return std::optional<std::map<std::string, SecretData>>(std::move(entries));
}

absl::Status CacertsSecret::Write(const std::map<std::string, SecretData>& entries) {
  SecretData body;
  body.Append(R"({"apiVersion":"v1","kind":"Secret","type":"Opaque","metadata":{"name":)");
  internal::AppendJsonString(name_, &body);
  body.Append(",\"namespace\":");
  internal::AppendJsonString(ns_, &body);
  body.Append(R"(,"labels":{"app.kubernetes.io/managed-by":"vaultca-sync"})");
  if (!resource_version_.empty()) {
    body.Append(",\"resourceVersion\":");
    internal::AppendJsonString(resource_version_, &body);
  }
  body.Append("},\"data\":{");
  bool first = true;
  for (const auto& [name, value] : entries) {
    if (!first) body.Append(",");
    first = false;
    internal::AppendJsonString(name, &body);
    body.Append(":\"");
    std::string encoded;
    absl::Base64Escape(value.view(), &encoded);
    body.Append(encoded);
    Wipe(&encoded);
    body.Append("\"");
  }
  body.Append("}}");
  const absl::string_view view = body.view();
  absl::StatusOr<server::KubeApiResponse> r =
      resource_version_.empty()
          ? kube_->Post(absl::StrCat("/api/v1/namespaces/", ns_, "/secrets"), view)
          : kube_->Request("PUT", Path(), &view);
  if (!r.ok()) return r.status();
  if (r->http_status != 200 && r->http_status != 201) {
    return HttpError(resource_version_.empty() ? "POST" : "PUT", *r);
  }
  nlohmann::json object = nlohmann::json::parse(r->body, nullptr, false);
  Wipe(&r->body);
  if (object.is_object()) {
    resource_version_ = object["metadata"].value("resourceVersion", "");
  }
  return absl::OkStatus();
}

}  // namespace cli
}  // namespace vaultca
