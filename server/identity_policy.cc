#include "server/identity_policy.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vaultca {
namespace server {
namespace {

constexpr char kOidSubjectAltName[] = "2.5.29.17";
constexpr char kOidKeyUsage[] = "2.5.29.15";
constexpr char kOidExtKeyUsage[] = "2.5.29.37";
constexpr char kOidServerAuth[] = "1.3.6.1.5.5.7.3.1";
constexpr char kOidClientAuth[] = "1.3.6.1.5.5.7.3.2";
// KeyUsage bit numbers (RFC 5280).
constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;

absl::Status Refuse(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("CSR refused by the strict identity policy: ", why));
}

// keyUsage may hold only digitalSignature and keyEncipherment.
absl::Status CheckKeyUsage(const x509::CsrUsages& usages) {
  if (usages.key_usage_malformed) {
    return Refuse("its keyUsage extension is malformed");
  }
  for (const int bit : usages.key_usage_bits) {
    if (bit != kDigitalSignature && bit != kKeyEncipherment) {
      return Refuse(absl::StrCat(
          "it requests keyUsage bit ", bit,
          "; only digitalSignature and keyEncipherment are allowed"));
    }
  }
  return absl::OkStatus();
}

// extendedKeyUsage may hold only serverAuth and clientAuth.
absl::Status CheckExtKeyUsage(const x509::CsrUsages& usages) {
  if (usages.extended_key_usage_malformed) {
    return Refuse("its extendedKeyUsage extension is malformed");
  }
  for (const std::string& oid : usages.extended_key_usages) {
    if (oid != kOidServerAuth && oid != kOidClientAuth) {
      return Refuse(absl::StrCat(
          "it requests extendedKeyUsage ", oid,
          "; only serverAuth and clientAuth are allowed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveIdentities(
    IdentityPolicy policy, const x509::ParsedCsr& csr,
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
  // In CSR order, so the first offending usage extension is the one named.
  for (const x509::CsrExtension& ext : csr.extensions()) {
    absl::Status usage = ext.oid == kOidKeyUsage ? CheckKeyUsage(csr.usages())
                         : ext.oid == kOidExtKeyUsage
                             ? CheckExtKeyUsage(csr.usages())
                             : absl::OkStatus();
    if (!usage.ok()) return usage;
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
