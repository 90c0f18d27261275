#include "cli/bootstrap_plan.h"

#include <ostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/internal/cert_checks.h"
#include "cli/internal/json_secret.h"
#include "cli/vault_flags.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace cli {

std::string PolicyText(const VaultSetup& setup) {
  return absl::StrCat("path \"", setup.kv_path,
                      "\" { capabilities = [\"read\", \"list\"] }");
}

absl::StatusOr<std::string> KvMount(absl::string_view data_path) {
  const size_t at = data_path.find("/data/");
  if (at == absl::string_view::npos || at == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--path ", data_path,
        ": not a KV v2 data path (MOUNT/data/NAME, e.g. secret/data/pki/istiod)"));
  }
  return std::string(data_path.substr(0, at));
}

absl::StatusOr<std::string> KvMetadataPath(absl::string_view data_path) {
  absl::StatusOr<std::string> mount = KvMount(data_path);
  if (!mount.ok()) return mount.status();
  return absl::StrCat(*mount, "/metadata/",
                      data_path.substr(mount->size() + sizeof("/data/") - 1));
}

std::string PolicyBody(const VaultSetup& setup) {
  return nlohmann::json{{"policy", PolicyText(setup)}}.dump();
}

std::string RoleBody(const VaultSetup& setup) {
  return nlohmann::json{
      {"bound_service_account_names", setup.service_accounts},
      {"bound_service_account_namespaces", setup.namespaces},
      {"policies", {setup.policy_name}},
      {"ttl", setup.ttl}}
      .dump();
}

SecretData KubernetesConfigBody(const VaultSetup& setup) {
  SecretData body;
  body.Append("{\"kubernetes_host\":");
  internal::AppendJsonString(setup.kubernetes_host, &body);
  if (!setup.kubernetes_ca_pem.empty()) {
    body.Append(",\"kubernetes_ca_cert\":");
    internal::AppendJsonString(setup.kubernetes_ca_pem, &body);
  }
  if (!setup.token_reviewer_jwt.empty()) {
    // A reviewer token given: Vault calls TokenReview with it rather than
    // with its own pod's token.
    body.Append(",\"disable_local_ca_jwt\":true,\"token_reviewer_jwt\":");
    internal::AppendJsonString(setup.token_reviewer_jwt.view(), &body);
  }
  body.Append("}");
  return body;
}

SecretData KvWriteBody(const std::map<std::string, SecretData>& fields,
                       int64_t cas) {
  SecretData body;
  body.Append(absl::StrCat("{\"options\":{\"cas\":", cas, "},\"data\":{"));
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) body.Append(",");
    first = false;
    internal::AppendJsonString(name, &body);
    body.Append(":");
    internal::AppendJsonString(value.view(), &body);
  }
  body.Append("}}");
  return body;
}

std::string RedactedKvWriteBody(const std::map<std::string, SecretData>& fields,
                                int64_t cas) {
  nlohmann::json data = nlohmann::json::object();
  for (const auto& [name, value] : fields) {
    if (absl::StrContains(value.view(), "PRIVATE KEY")) {
      data[name] = absl::StrCat("<redacted private key, ", value.size(), " bytes>");
      continue;
    }
    auto certs = internal::ParseCertificates(value.view());
    if (!certs.ok()) {
      data[name] = absl::StrCat("<", value.size(), " bytes>");
      continue;
    }
    std::string summary = absl::StrCat("<PEM, ", certs->size(), " certificate(s): ");
    for (size_t i = 0; i < certs->size(); ++i) {
      absl::StrAppend(&summary, i == 0 ? "" : " | ", (*certs)[i].subject);
    }
    data[name] = summary + ">";
  }
  return nlohmann::json{{"options", {{"cas", cas}}}, {"data", data}}.dump();
}

void PrintDryRun(const VaultSetup& s, const std::map<std::string, SecretData>& fields,
                 std::ostream& out) {
  out << "dry run: no request is sent. Policy " << s.policy_name << ":\n  "
      << PolicyText(s) << "\n\nRequests (writes are sent only where Vault "
      << "differs):\n";
  absl::StatusOr<std::string> mount = KvMount(s.kv_path);
  absl::StatusOr<std::string> metadata = KvMetadataPath(s.kv_path);
  out << "GET  /v1/sys/mounts\n";
  out << "POST /v1/sys/mounts/" << (mount.ok() ? *mount : "?")
      << " {\"type\":\"kv\",\"options\":{\"version\":\"2\"}}   (if missing)\n";
  out << "GET  /v1/sys/policies/acl/" << s.policy_name << "\n";
  out << "POST /v1/sys/policies/acl/" << s.policy_name << " " << PolicyBody(s) << "\n";
  out << "GET  /v1/sys/auth\n";
  out << "POST /v1/sys/auth/" << s.auth_mount << " {\"type\":\"kubernetes\"}   (if missing)\n";
  if (!s.kubernetes_host.empty()) {
    out << "GET  /v1/auth/" << s.auth_mount << "/config\n";
    out << "POST /v1/auth/" << s.auth_mount << "/config "
        << nlohmann::json{{"kubernetes_host", s.kubernetes_host},
                          {"kubernetes_ca_cert", s.kubernetes_ca_pem.empty() ? "" : "<PEM>"},
                          {"token_reviewer_jwt",
                           s.token_reviewer_jwt.empty() ? "" : "<redacted>"}}
               .dump()
        << "\n";
  }
  out << "GET  /v1/auth/" << s.auth_mount << "/role/" << s.role << "\n";
  out << "POST /v1/auth/" << s.auth_mount << "/role/" << s.role << " " << RoleBody(s) << "\n";
  out << "GET  /v1/" << (metadata.ok() ? *metadata : "?") << "\n";
  out << "GET  /v1/" << s.kv_path << "\n";
  out << "POST /v1/" << s.kv_path << " " << RedactedKvWriteBody(fields, 0)
      << "   (cas = the version read above; 0 creates)\n";
}

}  // namespace cli
}  // namespace vaultca
