#ifndef VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_ACCESS_H_
#define VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_ACCESS_H_

// The OpenSSL view of a KeyCertBundle, for vaultca's own signing code only.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {

struct KeyCertBundleAccess {
  // The signing key. Owned by the bundle; never null.
  static EVP_PKEY* SigningKey(const KeyCertBundle& bundle);
  // The signing certificate. Owned by the bundle; never null.
  static X509* SigningCert(const KeyCertBundle& bundle);
  // The parsed roots. Owned by the bundle; never null or empty.
  static STACK_OF(X509) * Roots(const KeyCertBundle& bundle);
  // The parsed chain certificates (may be empty). Owned by the bundle.
  static STACK_OF(X509) * Chain(const KeyCertBundle& bundle);

  // Precomputed once per bundle so the signing hot path does not redo them.

  // The signing cert's subject (the issuer name of what it signs). Owned by
  // the bundle; never null.
  static const X509_NAME* SubjectName(const KeyCertBundle& bundle);
  // The signing cert's subject key identifier: its SKI extension, or the
  // RFC 5280 SHA-1 key id of its public key when it has none. Owned by the
  // bundle; never null.
  static const ASN1_OCTET_STRING* SubjectKeyId(const KeyCertBundle& bundle);
  // A ready non-critical authorityKeyIdentifier extension (keyid =
  // SubjectKeyId) for certificates the bundle signs; X509_add_ext copies
  // it. Owned by the bundle; never null.
  static const X509_EXTENSION* AuthorityKeyIdExtension(
      const KeyCertBundle& bundle);
  // The pre-fetched digest for signatures by the signing key: SHA-256 for
  // RSA and P-256, SHA-384 for P-384; nullptr for Ed25519 (pass it as is to
  // X509_sign / EVP_DigestSignInit). Owned by the bundle.
  static const EVP_MD* SignatureDigest(const KeyCertBundle& bundle);
  // The validated path [signing cert, ..., trust anchor from the roots].
  // Owned by the bundle; never null or empty.
  static STACK_OF(X509) * VerifiedPath(const KeyCertBundle& bundle);
  // The trust anchor the signing cert verified to (last of VerifiedPath).
  static X509* Anchor(const KeyCertBundle& bundle);
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_ACCESS_H_
