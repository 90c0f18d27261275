#include "ca/caching/internal/root_policy.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "x509/x509_util.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

bool SameAnchor(X509* a, X509* b) {
  if (X509_cmp(a, b) == 0) return true;
  if (X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) != 0) {
    return false;
  }
  const EVP_PKEY* key_a = X509_get0_pubkey(a);
  const EVP_PKEY* key_b = X509_get0_pubkey(b);
  return key_a != nullptr && key_b != nullptr && EVP_PKEY_eq(key_a, key_b) == 1;
}

// Fingerprints of the roots of `current` that `next` does not keep.
std::vector<std::string> DroppedRoots(const KeyCertBundle& current,
                                      const KeyCertBundle& next) {
  STACK_OF(X509)* old_roots = KeyCertBundleAccess::Roots(current);
  STACK_OF(X509)* new_roots = KeyCertBundleAccess::Roots(next);
  std::vector<std::string> dropped;
  for (int i = 0; i < sk_X509_num(old_roots); ++i) {
    X509* old_root = sk_X509_value(old_roots, i);
    bool kept = false;
    for (int j = 0; j < sk_X509_num(new_roots) && !kept; ++j) {
      kept = SameAnchor(old_root, sk_X509_value(new_roots, j));
    }
    if (!kept) {
      absl::StatusOr<std::string> fingerprint = x509::Sha256FingerprintHex(old_root);
      dropped.push_back(fingerprint.ok() ? *fingerprint
                                         : absl::StrCat("<root #", i, ">"));
    }
  }
  return dropped;
}

}  // namespace

bool KeepsAllRoots(const KeyCertBundle& current, const KeyCertBundle& next) {
  return DroppedRoots(current, next).empty();
}

absl::Status CheckRootTransition(const KeyCertBundle& current,
                                 const KeyCertBundle& next, bool multi_root) {
  const std::vector<std::string> dropped = DroppedRoots(current, next);
  if (dropped.empty() || multi_root) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the new root bundle drops the current root(s) sha256:",
      absl::StrJoin(dropped, ", sha256:"),
      "; workloads still trusting them would stop verifying new "
      "certificates. Publish a root bundle holding both the old and the new "
      "root first (and rotate again once every workload trusts the new "
      "one), or enable multi-root (ISTIO_MULTIROOT_MESH) if trust bundles "
      "are distributed separately"));
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
