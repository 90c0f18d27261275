#ifndef VAULTCA_CA_KEY_CERT_BUNDLE_H_
#define VAULTCA_CA_KEY_CERT_BUNDLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/secret_data.h"
#include "x509/key_type.h"

namespace vaultca {
namespace ca {

// The algorithm of a CA or workload key, and its name ("RSA", "EC P-256",
// "EC P-384", "Ed25519"): the X.509 toolkit's, part of ca's API too.
using KeyType = ::vaultca::x509::KeyType;
using ::vaultca::x509::KeyTypeName;

// CA material as it arrives from a source (Vault, files, generation), before
// any validation. PEM text throughout.
struct CaMaterialPem {
  // The signing (issuing) certificate.
  std::string cert_pem;
  // Its private key: PKCS#1, SEC1 (optionally after an EC PARAMETERS block)
  // or PKCS#8; never encrypted.
  SecretData key_pem;
  // Certificates from the signing cert towards the root, as in Istio's
  // cert-chain.pem. May include the signing cert itself and the root; may
  // be empty when the signing cert is itself a root.
  std::string chain_pem;
  // One or more trusted roots (root-cert.pem). Required.
  std::string root_bundle_pem;
};

// Validated CA material, immutable once built and safe to share across
// threads. Holds parsed OpenSSL objects; see internal/key_cert_bundle_access.h.
class KeyCertBundle {
 public:
  // Parses and validates `material` as of `now`:
  //  - the key parses (encrypted keys are refused without a prompt) and
  //    matches the signing cert's public key;
  //  - the signing cert is a CA: basicConstraints CA:TRUE and keyUsage
  //    keyCertSign;
  //  - the signing cert verifies through the chain to one of the roots;
  //  - the signing cert is within its validity period.
  // Every failure is InvalidArgument (FailedPrecondition for "expired" and
  // "not yet valid") and names the exact problem.
  static absl::StatusOr<std::shared_ptr<const KeyCertBundle>> Create(
      const CaMaterialPem& material, absl::Time now = absl::Now());

  ~KeyCertBundle();
  KeyCertBundle(const KeyCertBundle&) = delete;
  KeyCertBundle& operator=(const KeyCertBundle&) = delete;

  KeyType key_type() const;
  absl::Time not_before() const;
  absl::Time not_after() const;
  absl::Duration TimeToExpiry(absl::Time now) const {
    return not_after() - now;
  }
  // The signing cert's serial number as lower-case hex.
  const std::string& serial_hex() const;
  // The signing cert's subject in RFC 2253 form, for logs.
  const std::string& subject() const;
  // True when the signing cert is self-signed (it is its own root).
  bool self_signed() const;

  // The signing cert, PEM-encoded with a trailing newline.
  const std::string& cert_pem() const;
  // The certificates of the chain as istiod sends them: each PEM-encoded
  // with a trailing newline, in file order. Empty when no chain was given.
  const std::vector<std::string>& chain_pems() const;
  // The root bundle exactly as one PEM string (all roots concatenated, each
  // with a trailing newline).
  const std::string& root_bundle_pem() const;
  // The SHA-256 fingerprints (hex) of the roots, for trust-bundle policy.
  const std::vector<std::string>& root_fingerprints() const;

 private:
  struct Rep;
  explicit KeyCertBundle(std::unique_ptr<Rep> rep);
  friend struct KeyCertBundleAccess;

  std::unique_ptr<Rep> rep_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_KEY_CERT_BUNDLE_H_
