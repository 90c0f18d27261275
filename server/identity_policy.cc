#include "server/identity_policy.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/internal/csr_usage.h"

namespace vaultca {
namespace server {
namespace {

constexpr char kOidSubjectAltName[] = "2.5.29.17";
constexpr char kOidKeyUsage[] = "2.5.29.15";
constexpr char kOidExtKeyUsage[] = "2.5.29.37";

absl::Status Refuse(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("CSR refused by the strict identity policy: ", why));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveIdentities(
    IdentityPolicy policy, const x509::ParsedCsr& csr, absl::string_view csr_pem,
    const std::vector<std::string>& identities) {
  if (policy == IdentityPolicy::kIstiod) return identities;

  if (!csr.dns_sans().empty() || !csr.ip_sans().empty() ||
      !csr.email_sans().empty() || csr.other_san_count() > 0) {
    return Refuse("it asks for DNS, IP, email or other non-URI SANs; only "
                  "the caller's URI identities are allowed");
  }
  if (!csr.common_name().empty()) {
    return Refuse("it has a Common Name; the subject must carry none");
  }
  for (const x509::CsrExtension& ext : csr.extensions()) {
    if (ext.oid != kOidSubjectAltName && ext.oid != kOidKeyUsage &&
        ext.oid != kOidExtKeyUsage) {
      return Refuse(absl::StrCat("it requests extension ", ext.oid,
                                 "; only subjectAltName, keyUsage and "
                                 "extendedKeyUsage are allowed"));
    }
  }
  if (absl::Status s = internal::CheckWorkloadUsages(csr_pem); !s.ok()) {
    return Refuse(s.message());
  }
  const std::set<std::string> want(identities.begin(), identities.end());
  const std::set<std::string> got(csr.uri_sans().begin(),
                                  csr.uri_sans().end());
  if (want != got) {
    return Refuse(absl::StrCat(
        "its URI SANs [", absl::StrJoin(csr.uri_sans(), ", "),
        "] differ from the caller's identities [",
        absl::StrJoin(identities, ", "), "]"));
  }
  return identities;
}

}  // namespace server
}  // namespace vaultca
