#ifndef VAULTCA_CA_INTERNAL_LEAF_NAMES_H_
#define VAULTCA_CA_INTERNAL_LEAF_NAMES_H_

// How istiod turns caller identities into a leaf's names (Istio's
// security/pkg/pki/util san.go and generate_cert.go), as DER.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace ca {
namespace internal {

enum class SanKind { kUri, kIp, kDns };

// Classifies one identity: an IP literal (IPv4 dotted quad or IPv6) is an
// IP SAN, a value with "://" (spiffe://...) a URI SAN, anything else a DNS
// SAN. For kIp, `ip` receives the 4 or 16 address bytes (4 for an
// IPv4-mapped IPv6 address, as Go's netip does).
SanKind ClassifySan(absl::string_view identity, std::string* ip);

// Checks that `identities` can be encoded: at least one, none empty, all
// ASCII (SANs are IA5String). InvalidArgument naming the bad entry.
absl::Status ValidateIdentities(const std::vector<std::string>& identities);

// Appends the whole subjectAltName Extension, marked critical (the subject
// is empty), holding `identities` in order. Call ValidateIdentities first.
void AppendSubjectAltNameExtension(const std::vector<std::string>& identities,
                                   std::string* out);

// Appends the leaf's subject Name: empty, or CN=`common_name` when
// non-empty, as PrintableString when every character allows it and
// UTF8String otherwise (Go's encoding/asn1 choice).
void AppendSubjectName(absl::string_view common_name, std::string* out);

// The istiod "dual use" CN: the first identity when it is at most 64
// characters, else none ("").
absl::string_view DualUseCommonName(
    const std::vector<std::string>& identities);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_INTERNAL_LEAF_NAMES_H_
