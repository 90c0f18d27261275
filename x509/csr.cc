#include "x509/csr.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "x509/internal/csr_contents.h"
#include "x509/internal/csr_der.h"
#include "x509/internal/csr_key.h"
#include "x509/internal/csr_signature.h"
#include "x509/pem_codec.h"

namespace vaultca {
namespace x509 {

absl::StatusOr<ParsedCsr> ParsedCsr::Parse(absl::string_view pem,
                                           const CsrPolicy& policy) {
  if (pem.empty()) {
    return absl::InvalidArgumentError(
        "CSR is empty: send a PEM \"CERTIFICATE REQUEST\" block");
  }
  if (pem.size() > policy.max_pem_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR is ", pem.size(), " bytes, over the ",
                     policy.max_pem_bytes, "-byte limit: send one PEM CSR"));
  }
  PemBlock block;
  switch (DecodeFirstPemBlock(pem, &block)) {
    case PemDecodeResult::kOk:
      break;
    case PemDecodeResult::kNoBlock:
      return absl::InvalidArgumentError(
          "CSR has no PEM block: expected \"-----BEGIN CERTIFICATE "
          "REQUEST-----\"");
    case PemDecodeResult::kNoEnd:
      return absl::InvalidArgumentError(
          absl::StrCat("CSR PEM block \"", block.label,
                       "\" has no matching END line"));
    case PemDecodeResult::kBadBase64:
      return absl::InvalidArgumentError(absl::StrCat(
          "CSR PEM block \"", block.label, "\" is not valid base64"));
  }
  if (block.label != "CERTIFICATE REQUEST" &&
      block.label != "NEW CERTIFICATE REQUEST") {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR PEM block is \"", block.label,
                     "\", expected \"CERTIFICATE REQUEST\""));
  }

  internal::CsrParts parts;
  absl::Status status = internal::SplitCsr(block.der, &parts);
  if (!status.ok()) return status;
  // The key policy runs before the signature check so that an oversized or
  // refused key costs no public-key operation.
  absl::StatusOr<internal::CsrKey> key = internal::ParseCsrKey(parts, policy);
  if (!key.ok()) return key.status();
  status = internal::VerifyCsrSignature(parts, *key);
  if (!status.ok()) return status;

  ParsedCsr csr;
  csr.key_type_ = key->type;
  csr.key_bits_ = key->bits;
  csr.public_key_der_.assign(parts.public_key_info.data(),
                             parts.public_key_info.size());
  status = internal::ParseCsrCommonName(parts.subject, &csr.common_name_);
  if (!status.ok()) return status;
  internal::CsrSans sans;
  status =
      internal::ParseCsrExtensionRequest(parts.attributes, &csr.extensions_,
                                         &sans, &csr.usages_);
  if (!status.ok()) return status;
  csr.uri_sans_ = std::move(sans.uris);
  csr.dns_sans_ = std::move(sans.dns_names);
  csr.ip_sans_ = std::move(sans.ips);
  csr.email_sans_ = std::move(sans.emails);
  csr.other_san_count_ = sans.other_count;
  // Last: `parts` are views into these bytes.
  csr.der_ = std::move(block.der);
  return csr;
}

absl::Status ParsedCsr::CheckKey(const CsrPolicy& policy) const {
  return internal::CheckKeyAllowed(key_type_, key_bits_, policy);
}

}  // namespace x509
}  // namespace vaultca
