#ifndef VAULTCA_X509_PEM_H_
#define VAULTCA_X509_PEM_H_

// PEM <-> OpenSSL objects for certificates and private keys. Internal to
// vaultca: exposes OpenSSL types.
//
// Every parse error is InvalidArgument and starts with the caller-supplied
// `what` (e.g. "cert", "chain", "root bundle", "key") so the operator knows
// which input to fix. Key bytes never appear in a message.

#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/secret_data.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::SslUniquePtr;

// Parses every CERTIFICATE block of `pem`, in order. Text outside blocks
// (such as `openssl x509 -text` output) is ignored. Fails when `pem` holds
// no block, when a block is not a CERTIFICATE (a key, a CSR) or when a
// block does not decode to exactly one DER certificate.
absl::StatusOr<std::vector<SslUniquePtr<X509>>> ParseCertificates(
    absl::string_view pem, absl::string_view what);

// As ParseCertificates, but returns an owning STACK_OF(X509). With
// `allow_empty`, text holding only whitespace yields an empty stack.
absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> ParseCertificateStack(
    absl::string_view pem, absl::string_view what, bool allow_empty = false);

// Parses `pem`, which must hold exactly one CERTIFICATE block.
absl::StatusOr<SslUniquePtr<X509>> ParseCertificate(absl::string_view pem,
                                                    absl::string_view what);

// Parses one unencrypted private key: "RSA PRIVATE KEY" (PKCS#1),
// "EC PRIVATE KEY" (SEC1, optionally preceded by an "EC PARAMETERS" block)
// or "PRIVATE KEY" (PKCS#8). "ENCRYPTED PRIVATE KEY" and PKCS#1 with a
// "Proc-Type: 4,ENCRYPTED" header are refused, never prompted for. Decoded
// key bytes are wiped before they are freed.
absl::StatusOr<SslUniquePtr<EVP_PKEY>> ParsePrivateKey(const SecretData& pem,
                                                       absl::string_view what);

// Returns `cert` as one PEM block ending in a newline.
absl::StatusOr<std::string> CertificateToPem(const X509* cert);

// Returns the concatenated PEM blocks of `certs`.
absl::StatusOr<std::string> CertificatesToPem(const STACK_OF(X509) * certs);

// Returns `key` as an unencrypted PKCS#8 "PRIVATE KEY" PEM block. The
// intermediate buffer is wiped.
absl::StatusOr<SecretData> PrivateKeyToPkcs8Pem(const EVP_PKEY* key);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_PEM_H_
