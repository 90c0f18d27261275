#ifndef VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_REP_H_
#define VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_REP_H_

// The state behind a KeyCertBundle. Private to key_cert_bundle.cc and
// key_cert_bundle_access.cc; everyone else goes through those.

#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {

namespace internal {

// Every field of a bundle. A namespace-level type so that helpers in
// key_cert_bundle.cc can fill it; KeyCertBundle::Rep itself is private.
struct BundleState {
  template <typename T>
  using Ptr = ::vaultca::internal::SslUniquePtr<T>;

  Ptr<EVP_PKEY> key;
  Ptr<X509> cert;
  // The chain as given, in file order (may be empty).
  Ptr<STACK_OF(X509)> chain;
  Ptr<STACK_OF(X509)> roots;
  // The validated path [cert, ..., trust anchor].
  Ptr<STACK_OF(X509)> verified_path;

  // Precomputed for the issuer's hot path.
  Ptr<ASN1_OCTET_STRING> subject_key_id;
  Ptr<X509_EXTENSION> authority_key_id_extension;
  Ptr<EVP_MD> signature_digest;  // Null for Ed25519.

  KeyType key_type = KeyType::kRsa;
  absl::Time not_before;
  absl::Time not_after;
  std::string serial_hex;
  std::string subject;
  bool self_signed = false;
  std::string cert_pem;
  std::vector<std::string> chain_pems;
  std::string root_bundle_pem;
  std::vector<std::string> root_fingerprints;
  std::vector<std::string> verified_path_pems;
};

}  // namespace internal

struct KeyCertBundle::Rep : internal::BundleState {};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_INTERNAL_KEY_CERT_BUNDLE_REP_H_
