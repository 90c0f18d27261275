#ifndef VAULTCA_X509_X509_UTIL_H_
#define VAULTCA_X509_X509_UTIL_H_

// Small X.509 helpers shared by bundle validation, CA generation and test
// PKI. Internal to vaultca: exposes OpenSSL types.

#include <string>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::SslUniquePtr;

// Converts an ASN.1 UTCTime/GeneralizedTime to absl::Time.
absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* time);

// Sets `cert`'s validity, encoding each instant as RFC 5280 requires
// (UTCTime through 2049, GeneralizedTime after). Sub-second parts are
// truncated.
absl::Status SetValidity(X509* cert, absl::Time not_before,
                         absl::Time not_after);

// Sets a serial number drawn uniformly from [1, 2^128) from OpenSSL's CSPRNG.
absl::Status SetRandomSerial(X509* cert);

// Returns `cert`'s serial number as lower-case hex without leading zeros.
std::string SerialHex(const X509* cert);

// Returns the SHA-256 fingerprint of `cert`'s DER as lower-case hex.
absl::StatusOr<std::string> Sha256FingerprintHex(const X509* cert);

// Returns `name` in RFC 2253 form ("O=cluster.local").
std::string NameToString(const X509_NAME* name);

// Adds an extension in OpenSSL config syntax (e.g. NID_basic_constraints,
// "critical,CA:TRUE"). `issuer` supplies the authority key identifier; it
// may be `cert` itself.
absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const char* value);

// Returns the RFC 5280 method-1 key identifier of `key`: the SHA-1 of the
// subjectPublicKey BIT STRING contents.
absl::StatusOr<SslUniquePtr<ASN1_OCTET_STRING>> ComputeKeyId(
    const EVP_PKEY* key);

// Signs `cert` with `key`, using `md` (nullptr for Ed25519).
absl::Status SignCertificate(X509* cert, EVP_PKEY* key, const EVP_MD* md);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_X509_UTIL_H_
