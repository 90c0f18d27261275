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
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_ACCESS_H_
