#include "ca/internal/key_cert_bundle_access.h"

#include "ca/internal/key_cert_bundle_rep.h"

namespace vaultca {
namespace ca {

EVP_PKEY* KeyCertBundleAccess::SigningKey(const KeyCertBundle& bundle) {
  return bundle.rep_->key.get();
}

X509* KeyCertBundleAccess::SigningCert(const KeyCertBundle& bundle) {
  return bundle.rep_->cert.get();
}

STACK_OF(X509) * KeyCertBundleAccess::Roots(const KeyCertBundle& bundle) {
  return bundle.rep_->roots.get();
}

STACK_OF(X509) * KeyCertBundleAccess::Chain(const KeyCertBundle& bundle) {
  return bundle.rep_->chain.get();
}

const X509_NAME* KeyCertBundleAccess::SubjectName(
    const KeyCertBundle& bundle) {
  return X509_get_subject_name(bundle.rep_->cert.get());
}

const ASN1_OCTET_STRING* KeyCertBundleAccess::SubjectKeyId(
    const KeyCertBundle& bundle) {
  return bundle.rep_->subject_key_id.get();
}

const X509_EXTENSION* KeyCertBundleAccess::AuthorityKeyIdExtension(
    const KeyCertBundle& bundle) {
  return bundle.rep_->authority_key_id_extension.get();
}

const EVP_MD* KeyCertBundleAccess::SignatureDigest(
    const KeyCertBundle& bundle) {
  return bundle.rep_->signature_digest.get();
}

STACK_OF(X509) *
    KeyCertBundleAccess::VerifiedPath(const KeyCertBundle& bundle) {
  return bundle.rep_->verified_path.get();
}

X509* KeyCertBundleAccess::Anchor(const KeyCertBundle& bundle) {
  STACK_OF(X509)* path = bundle.rep_->verified_path.get();
  return sk_X509_value(path, sk_X509_num(path) - 1);
}

}  // namespace ca
}  // namespace vaultca
