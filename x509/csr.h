#ifndef VAULTCA_X509_CSR_H_
#define VAULTCA_X509_CSR_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "x509/key_type.h"

namespace vaultca {
namespace x509 {

// Which CSRs a CA accepts before looking at who asks.
struct CsrPolicy {
  // Largest accepted PEM text, checked before any parsing.
  size_t max_pem_bytes = 64 * 1024;
  // Accepted RSA modulus sizes, inclusive.
  int min_rsa_bits = 2048;
  int max_rsa_bits = 8192;
  bool allow_ecdsa_p256 = true;
  bool allow_ecdsa_p384 = true;
  // Off by default: istio-agent and ztunnel never send Ed25519 keys.
  bool allow_ed25519 = false;
};

// One extension a CSR asks for, in CSR order.
struct CsrExtension {
  // Dotted decimal, e.g. "2.5.29.17" for subjectAltName.
  std::string oid;
  bool critical = false;
};

// The key usages a CSR asks for in its extension request. The CA itself
// ignores them (as istiod does), so a malformed value does not fail Parse;
// it is flagged for the policies that read them.
struct CsrUsages {
  // The keyUsage bits set, by RFC 5280 bit number (0 digitalSignature,
  // 1 contentCommitment, 2 keyEncipherment, ...), ascending. Empty when
  // the CSR asks for no keyUsage.
  std::vector<int> key_usage_bits;
  // The extendedKeyUsage purposes, dotted decimal (e.g. "1.3.6.1.5.5.7.3.1"
  // for serverAuth), in CSR order.
  std::vector<std::string> extended_key_usages;
  // The keyUsage or extendedKeyUsage value is not the DER it must be.
  bool key_usage_malformed = false;
  bool extended_key_usage_malformed = false;
};

// A PKCS#10 CSR that parsed, passed the key policy and verified against its
// own public key. Plain data: holds no OpenSSL objects.
class ParsedCsr {
 public:
  // Parses the first PEM block of `pem`, which must be a "CERTIFICATE
  // REQUEST" (or legacy "NEW CERTIFICATE REQUEST"). Anything before the
  // block and after it is ignored. Checks, in order: size, PEM, DER
  // structure, key policy, self-signature (SHA-256/384/512 with RSA
  // PKCS#1 v1.5 or ECDSA, or Ed25519; SHA-1 and RSA-PSS are refused), and
  // the subject and extension request. Every failure is InvalidArgument
  // with a message naming the exact problem; nothing of the CSR beyond its
  // key description is echoed.
  static absl::StatusOr<ParsedCsr> Parse(absl::string_view pem,
                                         const CsrPolicy& policy = {});

  // Whether `policy` accepts this CSR's key: OK, or the InvalidArgument
  // Parse would have answered under `policy`. No parsing, no public-key
  // operation.
  absl::Status CheckKey(const CsrPolicy& policy) const;

  // The whole CSR, DER: the bytes of the PEM block that was parsed.
  const std::string& der() const { return der_; }
  KeyType key_type() const { return key_type_; }
  // RSA modulus bits, or the curve size (256, 384; 256 for Ed25519).
  int key_bits() const { return key_bits_; }
  // The CSR's SubjectPublicKeyInfo, DER. Parse only accepts the canonical
  // form (RSA with NULL parameters, a named curve with an uncompressed
  // point), so these bytes are what a certificate for this key carries.
  const std::string& public_key_der() const { return public_key_der_; }

  // The subject's commonName as UTF-8; with several, the last one (as Go's
  // x509 reads it). Empty when there is none.
  const std::string& common_name() const { return common_name_; }
  // Requested subjectAltName values by type, in CSR order. IP addresses
  // are in text form ("10.0.0.1", "2001:db8::1").
  const std::vector<std::string>& uri_sans() const { return uri_sans_; }
  const std::vector<std::string>& dns_sans() const { return dns_sans_; }
  const std::vector<std::string>& ip_sans() const { return ip_sans_; }
  const std::vector<std::string>& email_sans() const { return email_sans_; }
  // How many SANs of any other type (otherName, directoryName,
  // registeredID, ...) the CSR asks for.
  int other_san_count() const { return other_san_count_; }
  // Every requested extension with its criticality, in CSR order.
  const std::vector<CsrExtension>& extensions() const { return extensions_; }
  // The keyUsage and extendedKeyUsage values requested.
  const CsrUsages& usages() const { return usages_; }

 private:
  ParsedCsr() = default;

  std::string der_;
  KeyType key_type_ = KeyType::kRsa;
  int key_bits_ = 0;
  std::string public_key_der_;
  std::string common_name_;
  std::vector<std::string> uri_sans_;
  std::vector<std::string> dns_sans_;
  std::vector<std::string> ip_sans_;
  std::vector<std::string> email_sans_;
  int other_san_count_ = 0;
  std::vector<CsrExtension> extensions_;
  CsrUsages usages_;
};

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_CSR_H_
