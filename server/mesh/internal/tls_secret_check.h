#ifndef VAULTCA_SERVER_MESH_INTERNAL_TLS_SECRET_CHECK_H_
#define VAULTCA_SERVER_MESH_INTERNAL_TLS_SECRET_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace server {
namespace mesh_internal {

// The three keys of a kubernetes.io/tls Secret as istiod reads them from
// /var/run/secrets/istiod/tls, decoded.
struct TlsSecretData {
  std::string tls_crt;   // leaf, then the intermediates
  SecretData tls_key;    // PKCS#8 PEM
  std::string ca_crt;    // the root bundle
};

// What a usable istiod certificate looks like right now.
struct TlsWanted {
  // Exactly these DNS SANs (any order), and no other SAN.
  std::vector<std::string> dns_names;
  ca::KeyType key_type = ca::KeyType::kRsa;
  // ca.crt must equal it, and the chain must verify to one of its roots.
  std::string root_bundle_pem;
  // The leaf must be signed by this certificate; empty: by any CA that
  // chains to the roots (a CA whose signing certificate is not known here).
  std::string signing_cert_pem;
};

struct TlsVerdict {
  // Empty when the Secret holds a usable certificate; otherwise why not,
  // for logs (never secret material).
  std::string problem;
  // Of the leaf; InfinitePast when it did not parse.
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
};

// Checks `data` at `now`: ca.crt is the wanted bundle; tls.crt parses, its
// leaf is no CA, has serverAuth (the kube-apiserver calling the webhook on
// 15017 and istio-agent on 15012 verify it as a TLS server), exactly the
// wanted DNS SANs and the wanted key type; tls.crt carries no root;
// tls.key is PKCS#8 and matches the leaf; the leaf verifies at `now`
// through tls.crt to the wanted roots, and was signed by the wanted signing
// certificate.
TlsVerdict CheckTlsSecret(const TlsSecretData& data, const TlsWanted& wanted,
                          absl::Time now);

// tls.crt from a CertificateAuthority's answer ([leaf, chain..., root
// bundle]): the leaf and the intermediates, one PEM each, without the root
// bundle and without any root (self-signed, or one of `root_bundle_pem`)
// the chain repeats. InvalidArgument when a certificate does not parse.
absl::StatusOr<std::string> ServingChainPem(
    const std::vector<std::string>& cert_chain,
    const std::string& root_bundle_pem);

// Standard base64 into a wiping buffer, and back (false on bad input).
void Base64EncodeSecret(absl::string_view in, SecretData* out);
bool Base64DecodeSecret(absl::string_view in, SecretData* out);

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_INTERNAL_TLS_SECRET_CHECK_H_
