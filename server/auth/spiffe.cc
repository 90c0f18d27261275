#include "server/auth/spiffe.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/auth/kube_names.h"

namespace vaultca {
namespace server {
namespace {

// The names Kubernetes itself accepts: a namespace is a DNS-1123 label, a
// service account a DNS-1123 subdomain. Nothing else can be a real account,
// and these are safe as API path segments ('/', '%', "..", upper case and
// empty parts never pass).
bool ValidAccount(absl::string_view kube_namespace, absl::string_view name) {
  return IsDns1123Label(kube_namespace) && IsDns1123Subdomain(name);
}

// SPIFFE's trust-domain grammar: lower-case letters, digits, '.', '-', '_'.
bool ValidTrustDomain(absl::string_view td) {
  if (td.empty() || td.size() > 255) return false;
  for (char c : td) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string SpiffeIdForServiceAccount(absl::string_view trust_domain,
                                      const ServiceAccountRef& account) {
  return absl::StrCat("spiffe://", trust_domain, "/ns/",
                      account.kube_namespace, "/sa/", account.name);
}

absl::StatusOr<ServiceAccountRef> ParseServiceAccountUser(
    absl::string_view username) {
  absl::string_view rest = username;
  if (!absl::ConsumePrefix(&rest, "system:serviceaccount:")) {
    return absl::InvalidArgumentError(
        "the subject is not a Kubernetes service account "
        "(system:serviceaccount:<namespace>:<name>)");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(rest, ':');
  if (parts.size() != 2 || !ValidAccount(parts[0], parts[1])) {
    return absl::InvalidArgumentError(
        "the service account user name is malformed; expected "
        "system:serviceaccount:<namespace>:<name>");
  }
  return ServiceAccountRef{std::string(parts[0]), std::string(parts[1])};
}

absl::StatusOr<ServiceAccountRef> ParseSpiffeServiceAccount(
    absl::string_view spiffe_id, std::string* trust_domain) {
  absl::string_view rest = spiffe_id;
  std::vector<absl::string_view> parts;
  if (absl::ConsumePrefix(&rest, "spiffe://")) {
    parts = absl::StrSplit(rest, '/');
  }
  if (parts.size() != 5 || !ValidTrustDomain(parts[0]) || parts[1] != "ns" ||
      parts[3] != "sa" || !ValidAccount(parts[2], parts[4])) {
    return absl::InvalidArgumentError(
        "not an Istio workload identity "
        "(spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>)");
  }
  if (trust_domain != nullptr) *trust_domain = std::string(parts[0]);
  return ServiceAccountRef{std::string(parts[2]), std::string(parts[4])};
}

}  // namespace server
}  // namespace vaultca
