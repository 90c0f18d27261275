#ifndef VAULTCA_X509_DER_H_
#define VAULTCA_X509_DER_H_

// The few DER primitives the CSR and leaf code needs, on plain bytes.
//
// Why not OpenSSL's ASN.1 objects: on OpenSSL 3.0, d2i_X509_REQ and
// X509_set_pubkey run the provider decoder/encoder framework for the public
// key, which costs several hundred microseconds per call: more than the
// signature itself. Splitting a CSR and writing a TBSCertificate by hand
// costs a few microseconds; OpenSSL still does every cryptographic step.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace x509 {

// Universal and context-specific tags used by certificates and CSRs.
inline constexpr uint8_t kDerBoolean = 0x01;
inline constexpr uint8_t kDerInteger = 0x02;
inline constexpr uint8_t kDerBitString = 0x03;
inline constexpr uint8_t kDerOctetString = 0x04;
inline constexpr uint8_t kDerNull = 0x05;
inline constexpr uint8_t kDerOid = 0x06;
inline constexpr uint8_t kDerUtf8String = 0x0c;
inline constexpr uint8_t kDerPrintableString = 0x13;
inline constexpr uint8_t kDerUtcTime = 0x17;
inline constexpr uint8_t kDerGeneralizedTime = 0x18;
inline constexpr uint8_t kDerSequence = 0x30;
inline constexpr uint8_t kDerSet = 0x31;
// [0] constructed, as in CertificationRequestInfo.attributes and
// TBSCertificate.version.
inline constexpr uint8_t kDerContext0Constructed = 0xa0;
inline constexpr uint8_t kDerContext3Constructed = 0xa3;

// One decoded element: its tag, its contents, and its whole encoding.
struct DerElement {
  uint8_t tag = 0;
  absl::string_view contents;
  absl::string_view encoding;
};

// Reads consecutive DER elements from a byte string. Accepts only the
// definite, minimal length forms DER allows and single-byte tags.
class DerReader {
 public:
  explicit DerReader(absl::string_view input) : rest_(input) {}

  bool empty() const { return rest_.empty(); }
  // The next element's tag, or 0 when empty.
  uint8_t PeekTag() const {
    return rest_.empty() ? 0 : static_cast<uint8_t>(rest_[0]);
  }

  // Reads the next element, which must carry `tag`. Returns false (and
  // consumes nothing) when the input is malformed or the tag differs.
  bool Read(uint8_t tag, DerElement* out);
  // Reads the next element whatever its tag.
  bool ReadAny(DerElement* out);

 private:
  absl::string_view rest_;
};

// Appends the DER header (tag and length) for `length` content bytes.
void AppendDerHeader(uint8_t tag, size_t length, std::string* out);
// Appends a whole element.
void AppendDer(uint8_t tag, absl::string_view contents, std::string* out);
// Returns the size of the header AppendDerHeader writes for `length`.
size_t DerHeaderSize(size_t length);

// Returns the dotted-decimal form of OBJECT IDENTIFIER `contents` (e.g.
// "2.5.29.17"), or "" when they are not a valid encoding.
std::string DerOidToText(absl::string_view contents);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_DER_H_
