#include "ca/internal/leaf_names.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "x509/der.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

// Extension ::= SEQUENCE { OID 2.5.29.17, BOOLEAN TRUE, OCTET STRING }
constexpr absl::string_view kSanOidCritical("\x06\x03\x55\x1d\x11\x01\x01\xff",
                                            8);
constexpr absl::string_view kCommonNameOid("\x06\x03\x55\x04\x03", 5);
constexpr uint8_t kDnsTag = 0x82;
constexpr uint8_t kUriTag = 0x86;
constexpr uint8_t kIpTag = 0x87;

// PrintableString's alphabet as Go's encoding/asn1 marshals it (no '*',
// no '&').
bool IsPrintable(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == ' ' || c == '\'' || c == '(' ||
         c == ')' || c == '+' || c == ',' || c == '-' || c == '.' ||
         c == '/' || c == ':' || c == '=' || c == '?';
}

}  // namespace

SanKind ClassifySan(absl::string_view identity, std::string* ip) {
  // inet_pton needs a terminated string; identities longer than any
  // address literal cannot be one.
  char text[INET6_ADDRSTRLEN + 1];
  if (identity.size() < sizeof(text) &&
      identity.find('\0') == absl::string_view::npos) {
    std::memcpy(text, identity.data(), identity.size());
    text[identity.size()] = '\0';
    unsigned char bytes[16];
    if (inet_pton(AF_INET, text, bytes) == 1) {
      ip->assign(reinterpret_cast<char*>(bytes), 4);
      return SanKind::kIp;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
      static const unsigned char kV4Mapped[12] = {0, 0, 0, 0, 0,    0,
                                                  0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(bytes, kV4Mapped, sizeof(kV4Mapped)) == 0) {
        ip->assign(reinterpret_cast<char*>(bytes) + 12, 4);
      } else {
        ip->assign(reinterpret_cast<char*>(bytes), 16);
      }
      return SanKind::kIp;
    }
  }
  if (absl::StrContains(identity, "://")) return SanKind::kUri;
  return SanKind::kDns;
}

absl::Status ValidateIdentities(const std::vector<std::string>& identities) {
  if (identities.empty()) {
    return absl::InvalidArgumentError(
        "no identities to certify: the request must name at least one");
  }
  for (size_t i = 0; i < identities.size(); ++i) {
    const std::string& id = identities[i];
    if (id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("identity ", i, " is empty"));
    }
    for (const char c : id) {
      if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') {
        return absl::InvalidArgumentError(absl::StrCat(
            "identity ", i,
            " has a non-ASCII or NUL byte: SAN values must be IA5String"));
      }
    }
  }
  return absl::OkStatus();
}

void AppendSubjectAltNameExtension(const std::vector<std::string>& identities,
                                   std::string* out) {
  std::string names;
  std::string ip;
  for (const std::string& id : identities) {
    switch (ClassifySan(id, &ip)) {
      case SanKind::kIp:
        x509::AppendDer(kIpTag, ip, &names);
        break;
      case SanKind::kUri:
        x509::AppendDer(kUriTag, id, &names);
        break;
      case SanKind::kDns:
        x509::AppendDer(kDnsTag, id, &names);
        break;
    }
  }
  const size_t general_names = x509::DerHeaderSize(names.size()) + names.size();
  const size_t octets = x509::DerHeaderSize(general_names) + general_names;
  x509::AppendDerHeader(x509::kDerSequence, kSanOidCritical.size() + octets, out);
  out->append(kSanOidCritical.data(), kSanOidCritical.size());
  x509::AppendDerHeader(x509::kDerOctetString, general_names, out);
  x509::AppendDer(x509::kDerSequence, names, out);
}

void AppendSubjectName(absl::string_view common_name, std::string* out) {
  if (common_name.empty()) {
    x509::AppendDerHeader(x509::kDerSequence, 0, out);
    return;
  }
  bool printable = true;
  for (const char c : common_name) printable = printable && IsPrintable(c);
  std::string attribute(kCommonNameOid);
  x509::AppendDer(printable ? x509::kDerPrintableString : x509::kDerUtf8String, common_name,
            &attribute);
  std::string rdn;
  x509::AppendDer(x509::kDerSequence, attribute, &rdn);
  std::string set;
  x509::AppendDer(x509::kDerSet, rdn, &set);
  x509::AppendDer(x509::kDerSequence, set, out);
}

absl::string_view DualUseCommonName(
    const std::vector<std::string>& identities) {
  if (identities.empty() || identities[0].size() > 64) return "";
  return identities[0];
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
