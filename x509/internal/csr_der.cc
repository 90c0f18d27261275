#include "x509/internal/csr_der.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "x509/der.h"

namespace vaultca {
namespace x509 {
namespace internal {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("CSR is not valid PKCS#10 DER: ", what,
                   "; send the PEM of a CSR made by a standard library"));
}

// Reads AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY
// OPTIONAL }.
bool ReadAlgorithm(DerReader* reader, absl::string_view* oid,
                   absl::string_view* parameters) {
  DerElement algorithm, element;
  if (!reader->Read(kDerSequence, &algorithm)) return false;
  DerReader fields(algorithm.contents);
  if (!fields.Read(kDerOid, &element)) return false;
  *oid = element.contents;
  *parameters = absl::string_view();
  if (!fields.empty()) {
    if (!fields.ReadAny(&element)) return false;
    *parameters = element.encoding;
  }
  return fields.empty();
}

// Reads a BIT STRING whose unused-bits count is zero (keys, signatures).
bool ReadOctetAlignedBits(DerReader* reader, absl::string_view* bits) {
  DerElement element;
  if (!reader->Read(kDerBitString, &element)) return false;
  if (element.contents.empty() || element.contents[0] != 0) return false;
  *bits = element.contents.substr(1);
  return true;
}

}  // namespace

absl::Status SplitCsr(absl::string_view der, CsrParts* parts) {
  DerReader outer(der);
  DerElement request;
  if (!outer.Read(kDerSequence, &request)) {
    return Malformed("expected a CertificationRequest SEQUENCE");
  }
  if (!outer.empty()) return Malformed("data follows the CertificationRequest");

  DerReader fields(request.contents);
  DerElement info;
  if (!fields.Read(kDerSequence, &info)) {
    return Malformed("bad CertificationRequestInfo");
  }
  parts->info = info.encoding;
  if (!ReadAlgorithm(&fields, &parts->signature_algorithm,
                     &parts->signature_parameters)) {
    return Malformed("bad signatureAlgorithm");
  }
  if (!ReadOctetAlignedBits(&fields, &parts->signature)) {
    return Malformed("bad signature BIT STRING");
  }
  if (!fields.empty()) return Malformed("extra fields after the signature");

  DerReader info_fields(info.contents);
  DerElement version;
  if (!info_fields.Read(kDerInteger, &version)) {
    return Malformed("missing version");
  }
  if (version.contents != absl::string_view("\x00", 1)) {
    return Malformed("version is not 0 (PKCS#10 v1)");
  }
  DerElement subject;
  if (!info_fields.Read(kDerSequence, &subject)) {
    return Malformed("bad subject Name");
  }
  parts->subject = subject.encoding;

  DerElement spki;
  if (!info_fields.Read(kDerSequence, &spki)) {
    return Malformed("bad SubjectPublicKeyInfo");
  }
  parts->public_key_info = spki.encoding;
  DerReader spki_fields(spki.contents);
  if (!ReadAlgorithm(&spki_fields, &parts->key_algorithm,
                     &parts->key_parameters) ||
      !ReadOctetAlignedBits(&spki_fields, &parts->public_key) ||
      !spki_fields.empty()) {
    return Malformed("bad SubjectPublicKeyInfo");
  }

  parts->attributes = absl::string_view();
  if (!info_fields.empty()) {
    DerElement attributes;
    if (!info_fields.Read(kDerContext0Constructed, &attributes)) {
      return Malformed("bad attributes");
    }
    parts->attributes = attributes.contents;
  }
  if (!info_fields.empty()) {
    return Malformed("extra fields in CertificationRequestInfo");
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace x509
}  // namespace vaultca
