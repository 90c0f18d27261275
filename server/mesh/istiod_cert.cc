#include "server/mesh/istiod_cert.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/mesh/internal/istiod_cert_impl.h"

namespace vaultca {
namespace server {
namespace {

// An RFC 1123 label: what a namespace or Service name may be.
bool IsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsDnsName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    const bool ok =
        !label.empty() && label.size() <= 63 &&
        std::all_of(label.begin(), label.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-';
        });
    if (!ok) return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("istiod certificate: ", what));
}

}  // namespace

std::vector<std::string> IstiodDnsNames(const IstiodCertOptions& options) {
  std::vector<std::string> names;
  absl::flat_hash_set<std::string> seen;
  auto add = [&](std::string name) {
    if (seen.insert(name).second) names.push_back(std::move(name));
  };
  add(absl::StrCat("istiod.", options.istiod_namespace, ".svc"));
  for (const std::string& revision : options.revisions) {
    if (revision.empty() || revision == "default") continue;
    add(absl::StrCat("istiod-", revision, ".", options.istiod_namespace,
                     ".svc"));
  }
  for (const std::string& name : options.dns_names) add(name);
  return names;
}

absl::StatusOr<std::unique_ptr<IstiodCertificate>> IstiodCertificate::New(
    std::shared_ptr<const KubeApiClient> api, IstiodCertOptions options,
    ca::CertificateAuthority* ca) {
  if (api == nullptr) return Invalid("no Kubernetes client");
  if (ca == nullptr) return Invalid("no certificate authority");
  if (!IsLabel(options.istiod_namespace)) {
    return Invalid(absl::StrCat("'", options.istiod_namespace,
                                "' is not a namespace name"));
  }
  if (options.secret_name.empty() || !IsDnsName(options.secret_name)) {
    return Invalid(absl::StrCat("'", options.secret_name,
                                "' is not a Secret name"));
  }
  for (const std::string& revision : options.revisions) {
    // istiod-<rev> is a Service name.
    if (revision != "default" &&
        !IsLabel(absl::StrCat("istiod-", revision))) {
      return Invalid(absl::StrCat("revision '", revision,
                                  "' cannot name a Service istiod-<rev>"));
    }
  }
  for (const std::string& name : options.dns_names) {
    if (!IsDnsName(name)) {
      return Invalid(absl::StrCat("'", name, "' is not a DNS name"));
    }
  }
  if (options.ttl < absl::Seconds(1)) return Invalid("ttl must be at least 1s");
  if (options.key_type != ca::KeyType::kRsa &&
      options.key_type != ca::KeyType::kEcP256) {
    return Invalid("the key type must be RSA (2048) or EC P-256");
  }
  if (!(options.renew_fraction > 0 && options.renew_fraction < 1)) {
    return Invalid("renew_fraction must be in (0, 1)");
  }
  if (options.lease_namespace.empty() || options.lease_name.empty() ||
      options.identity.empty()) {
    return Invalid(
        "lease_namespace, lease_name and identity must be set (identity is "
        "usually the pod name, from POD_NAME)");
  }
  if (options.lease_duration < absl::Seconds(1) ||
      options.retry_period <= absl::ZeroDuration() ||
      options.renew_deadline <= options.retry_period ||
      options.renew_deadline >= options.lease_duration) {
    return Invalid(
        "need retry_period < renew_deadline < lease_duration (lease_duration "
        "at least 1s), so a holder stops writing before another replica may "
        "take the lease");
  }
  if (options.retry_backoff <= absl::ZeroDuration()) {
    return Invalid("retry_backoff must be positive");
  }
  return std::unique_ptr<IstiodCertificate>(new mesh_internal::IstiodCertImpl(
      std::move(api), std::move(options), ca));
}

}  // namespace server
}  // namespace vaultca
