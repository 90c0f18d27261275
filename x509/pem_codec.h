#ifndef VAULTCA_X509_PEM_CODEC_H_
#define VAULTCA_X509_PEM_CODEC_H_

// PEM text <-> DER bytes without OpenSSL BIOs, for the signing hot path:
// one CSR in, one certificate out. (x509/pem.h handles CA material,
// where speed does not matter and OpenSSL objects are wanted.)

#include <string>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace x509 {

// The first PEM block of some text.
struct PemBlock {
  // The label between "-----BEGIN " and "-----", e.g. "CERTIFICATE REQUEST".
  absl::string_view label;
  // The base64-decoded body.
  std::string der;
};

enum class PemDecodeResult {
  kOk,
  // No "-----BEGIN <label>-----" line.
  kNoBlock,
  // A BEGIN line without its matching "-----END <label>-----".
  kNoEnd,
  // The body is not base64 (PEM headers such as Proc-Type land here too).
  kBadBase64,
};

// Decodes the first PEM block of `text`, ignoring anything before its BEGIN
// line and after its END line. On a result other than kOk, `block->label`
// is still set when a BEGIN line was found.
PemDecodeResult DecodeFirstPemBlock(absl::string_view text, PemBlock* block);

// Returns `der` as a PEM block with `label`, base64 in 64-column lines,
// ending with a newline (the layout of Go's pem.Encode and OpenSSL's
// PEM_write).
std::string EncodePem(absl::string_view label, absl::string_view der);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_PEM_CODEC_H_
