#include "x509/internal/csr_contents.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>

#include "absl/strings/str_cat.h"
#include "x509/der.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace x509 {
namespace internal {
namespace {

using ::vaultca::internal::SslUniquePtr;

constexpr absl::string_view kCommonNameOid("\x55\x04\x03", 3);
constexpr absl::string_view kSubjectAltNameOid("\x55\x1d\x11", 3);
constexpr absl::string_view kKeyUsageOid("\x55\x1d\x0f", 3);
constexpr absl::string_view kExtKeyUsageOid("\x55\x1d\x25", 3);
constexpr absl::string_view kExtensionRequestOid(
    "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e", 9);

// GeneralName tags (RFC 5280, IMPLICIT context-specific).
constexpr uint8_t kRfc822Name = 0x81;
constexpr uint8_t kDnsName = 0x82;
constexpr uint8_t kUri = 0x86;
constexpr uint8_t kIpAddress = 0x87;

// ASN.1 string tags a commonName can carry.
constexpr uint8_t kT61String = 0x14;
constexpr uint8_t kIa5String = 0x16;
constexpr uint8_t kUniversalString = 0x1c;
constexpr uint8_t kBmpString = 0x1e;

absl::Status BadSubject() {
  return absl::InvalidArgumentError(
      "CSR subject is malformed: expected a DER Name");
}

absl::Status BadExtensions(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("CSR extension request is malformed: ", what));
}

// Converts a DirectoryString to UTF-8.
bool StringToUtf8(const DerElement& value, std::string* out) {
  switch (value.tag) {
    case kDerUtf8String:
    case kDerPrintableString:
    case kIa5String:
      out->assign(value.contents.data(), value.contents.size());
      return true;
    case kT61String:
    case kBmpString:
    case kUniversalString: {
      // Wider or legacy encodings: let OpenSSL transcode.
      const int type = value.tag == kT61String   ? V_ASN1_T61STRING
                       : value.tag == kBmpString ? V_ASN1_BMPSTRING
                                                 : V_ASN1_UNIVERSALSTRING;
      SslUniquePtr<ASN1_STRING> text(ASN1_STRING_type_new(type));
      unsigned char* utf8 = nullptr;
      if (text == nullptr ||
          !ASN1_STRING_set(text.get(), value.contents.data(),
                           static_cast<int>(value.contents.size()))) {
        ::vaultca::internal::ClearSslErrors();
        return false;
      }
      const int length = ASN1_STRING_to_UTF8(&utf8, text.get());
      if (length < 0) {
        ::vaultca::internal::ClearSslErrors();
        return false;
      }
      out->assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
      OPENSSL_free(utf8);
      return true;
    }
    default:
      return false;
  }
}

absl::Status ParseSubjectAltName(absl::string_view value, CsrSans* sans) {
  const absl::Status bad = absl::InvalidArgumentError(
      "CSR subjectAltName extension is malformed");
  DerReader outer(value);
  DerElement names;
  if (!outer.Read(kDerSequence, &names) || !outer.empty() ||
      names.contents.empty()) {
    return bad;
  }
  DerReader reader(names.contents);
  while (!reader.empty()) {
    DerElement name;
    if (!reader.ReadAny(&name)) return bad;
    const std::string text(name.contents.data(), name.contents.size());
    switch (name.tag) {
      case kUri:
        sans->uris.push_back(text);
        break;
      case kDnsName:
        sans->dns_names.push_back(text);
        break;
      case kRfc822Name:
        sans->emails.push_back(text);
        break;
      case kIpAddress: {
        char buffer[INET6_ADDRSTRLEN];
        const int family = name.contents.size() == 4    ? AF_INET
                           : name.contents.size() == 16 ? AF_INET6
                                                        : 0;
        if (family == 0 ||
            inet_ntop(family, name.contents.data(), buffer, sizeof(buffer)) ==
                nullptr) {
          return absl::InvalidArgumentError(
              "CSR subjectAltName has an IP address that is neither 4 nor 16 "
              "bytes");
        }
        sans->ips.push_back(buffer);
        break;
      }
      case 0xa0:  // otherName
      case 0xa3:  // x400Address
      case 0xa4:  // directoryName
      case 0xa5:  // ediPartyName
      case 0x88:  // registeredID
        ++sans->other_count;
        break;
      default:
        return bad;
    }
  }
  return absl::OkStatus();
}

// Reads a KeyUsage BIT STRING into the numbers of its set bits. False when
// it is not one BIT STRING with 0-7 unused bits.
bool ParseKeyUsage(absl::string_view value, std::vector<int>* bits) {
  DerReader outer(value);
  DerElement bit_string;
  if (!outer.Read(kDerBitString, &bit_string) || !outer.empty() ||
      bit_string.contents.empty()) {
    return false;
  }
  const auto unused = static_cast<uint8_t>(bit_string.contents[0]);
  const absl::string_view bytes = bit_string.contents.substr(1);
  if (unused > 7 || (bytes.empty() && unused != 0)) return false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto byte = static_cast<uint8_t>(bytes[i]);
    // The unused trailing bits do not count, whatever they hold.
    if (i + 1 == bytes.size()) byte &= static_cast<uint8_t>(0xff << unused);
    for (int bit = 0; bit < 8; ++bit) {
      if (byte & (0x80 >> bit)) bits->push_back(static_cast<int>(i) * 8 + bit);
    }
  }
  return true;
}

// Reads an ExtKeyUsageSyntax (a SEQUENCE of OIDs) as dotted decimal.
bool ParseExtKeyUsage(absl::string_view value,
                      std::vector<std::string>* purposes) {
  DerReader outer(value);
  DerElement sequence;
  if (!outer.Read(kDerSequence, &sequence) || !outer.empty()) return false;
  DerReader reader(sequence.contents);
  while (!reader.empty()) {
    DerElement oid;
    if (!reader.Read(kDerOid, &oid)) return false;
    std::string dotted = DerOidToText(oid.contents);
    if (dotted.empty()) return false;
    purposes->push_back(std::move(dotted));
  }
  return true;
}

absl::Status ParseExtensions(absl::string_view value,
                             std::vector<CsrExtension>* extensions,
                             CsrSans* sans, CsrUsages* usages) {
  DerReader outer(value);
  DerElement sequence;
  if (!outer.Read(kDerSequence, &sequence) || !outer.empty()) {
    return BadExtensions("expected one Extensions SEQUENCE");
  }
  DerReader reader(sequence.contents);
  while (!reader.empty()) {
    DerElement extension, oid, critical, octets;
    if (!reader.Read(kDerSequence, &extension)) {
      return BadExtensions("bad Extension");
    }
    DerReader fields(extension.contents);
    if (!fields.Read(kDerOid, &oid)) return BadExtensions("bad extension id");
    CsrExtension entry;
    entry.oid = DerOidToText(oid.contents);
    if (entry.oid.empty()) return BadExtensions("bad extension id");
    if (fields.PeekTag() == kDerBoolean) {
      if (!fields.Read(kDerBoolean, &critical) ||
          critical.contents.size() != 1) {
        return BadExtensions(absl::StrCat("bad critical flag on ", entry.oid));
      }
      entry.critical = critical.contents[0] != 0;
    }
    if (!fields.Read(kDerOctetString, &octets) || !fields.empty()) {
      return BadExtensions(absl::StrCat("bad value of ", entry.oid));
    }
    for (const CsrExtension& seen : *extensions) {
      if (seen.oid == entry.oid) {
        return BadExtensions(
            absl::StrCat("extension ", entry.oid, " appears twice"));
      }
    }
    if (oid.contents == kSubjectAltNameOid) {
      absl::Status status = ParseSubjectAltName(octets.contents, sans);
      if (!status.ok()) return status;
    } else if (oid.contents == kKeyUsageOid) {
      if (!ParseKeyUsage(octets.contents, &usages->key_usage_bits)) {
        usages->key_usage_bits.clear();
        usages->key_usage_malformed = true;
      }
    } else if (oid.contents == kExtKeyUsageOid) {
      if (!ParseExtKeyUsage(octets.contents, &usages->extended_key_usages)) {
        usages->extended_key_usages.clear();
        usages->extended_key_usage_malformed = true;
      }
    }
    extensions->push_back(std::move(entry));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseCsrCommonName(absl::string_view subject_der,
                                std::string* common_name) {
  common_name->clear();
  DerReader outer(subject_der);
  DerElement name;
  if (!outer.Read(kDerSequence, &name) || !outer.empty()) return BadSubject();
  DerReader rdns(name.contents);
  while (!rdns.empty()) {
    DerElement rdn;
    if (!rdns.Read(kDerSet, &rdn)) return BadSubject();
    DerReader attributes(rdn.contents);
    if (attributes.empty()) return BadSubject();
    while (!attributes.empty()) {
      DerElement attribute, type, value;
      if (!attributes.Read(kDerSequence, &attribute)) return BadSubject();
      DerReader fields(attribute.contents);
      if (!fields.Read(kDerOid, &type) || !fields.ReadAny(&value) ||
          !fields.empty()) {
        return BadSubject();
      }
      if (type.contents == kCommonNameOid &&
          !StringToUtf8(value, common_name)) {
        return absl::InvalidArgumentError(
            "CSR subject commonName is not a valid DirectoryString");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseCsrExtensionRequest(absl::string_view attributes,
                                      std::vector<CsrExtension>* extensions,
                                      CsrSans* sans, CsrUsages* usages) {
  extensions->clear();
  *sans = CsrSans();
  *usages = CsrUsages();
  DerReader reader(attributes);
  bool seen = false;
  while (!reader.empty()) {
    DerElement attribute, type, values;
    if (!reader.Read(kDerSequence, &attribute)) {
      return absl::InvalidArgumentError(
          "CSR attributes are malformed: expected Attribute SEQUENCEs");
    }
    DerReader fields(attribute.contents);
    if (!fields.Read(kDerOid, &type) || !fields.Read(kDerSet, &values) ||
        !fields.empty()) {
      return absl::InvalidArgumentError(
          "CSR attributes are malformed: expected type and values");
    }
    if (type.contents != kExtensionRequestOid) continue;
    if (seen) return BadExtensions("the attribute appears twice");
    seen = true;
    absl::Status status =
        ParseExtensions(values.contents, extensions, sans, usages);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace x509
}  // namespace vaultca
