#ifndef VAULTCA_CA_GENERATE_H_
#define VAULTCA_CA_GENERATE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace ca {

// A freshly generated private key, PKCS#8 PEM.
absl::StatusOr<SecretData> GeneratePrivateKeyPem(KeyType type);

struct RootOptions {
  // Becomes the subject's O=, as istiod's self-signed root (cluster.local).
  std::string organization = "cluster.local";
  // Key to certify; generated with `key_type` when empty.
  SecretData key_pem;
  KeyType key_type = KeyType::kRsa;
  // istiod's SelfSignedCACertTTL default: ten years.
  absl::Duration ttl = absl::Hours(24 * 365 * 10);
  absl::Time now = absl::Now();
};

// Generates a self-signed root compatible with istiod's default CA:
// subject O=<organization>, CA:TRUE (critical), keyUsage keyCertSign |
// cRLSign (critical), SKI, 128-bit random serial, NotBefore now - 2 min,
// NotAfter now + ttl; signed with SHA-256 (RSA, P-256), SHA-384 (P-384) or
// Ed25519. The result's key is PKCS#8, its chain is empty and its root
// bundle is the cert itself. The result is validated before it is returned.
absl::StatusOr<CaMaterialPem> GenerateSelfSignedRoot(const RootOptions& options);

struct IntermediateOptions {
  std::string organization = "cluster.local";
  std::string common_name = "vaultca intermediate";
  // Key to certify; generated with `key_type` when empty.
  SecretData key_pem;
  KeyType key_type = KeyType::kEcP256;
  absl::Duration ttl = absl::Hours(24 * 365);
  absl::Time now = absl::Now();
};

// Generates an intermediate CA signed by `parent`: subject O=, CN= from
// `options`, CA:TRUE pathlen:0 (critical), keyUsage keyCertSign | cRLSign
// (critical), SKI, AKI = the parent's key id, NotBefore now - 2 min and
// NotAfter clamped to the parent's NotAfter. The result's chain is
// [intermediate, parent chain..., parent root] as in Istio's cert-chain.pem
// (the parent's validated path, so each certificate appears once), and its
// root bundle is the parent's root bundle. FailedPrecondition when the
// parent has expired.
absl::StatusOr<CaMaterialPem> GenerateIntermediate(
    const KeyCertBundle& parent, const IntermediateOptions& options);

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_GENERATE_H_
