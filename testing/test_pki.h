#ifndef VAULTCA_TESTING_TEST_PKI_H_
#define VAULTCA_TESTING_TEST_PKI_H_

// PKI built at test time, for tests only. Keys are generated once per
// process and cached (RSA generation is slow); certificates are fresh on
// every call, valid relative to the `now` passed in. Every function aborts
// the test binary with a message if OpenSSL fails, since no test can go on
// without its fixtures.

#include <string>

#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace testkit {

// A PKCS#8 PEM key of `type`. The same (type, slot) always yields the same
// key within a process; different slots yield different keys. Thread-safe.
const SecretData& CachedKeyPem(ca::KeyType type, int slot = 0);

// Keys vaultca must refuse, cached like CachedKeyPem: RSA 1024 and EC
// P-521, PKCS#8 PEM.
const SecretData& Rsa1024KeyPem();
const SecretData& P521KeyPem();

// CachedKeyPem(kRsa) re-encoded as PKCS#1 "RSA PRIVATE KEY".
SecretData RsaPkcs1KeyPem(int slot = 0);
// CachedKeyPem(type) (an EC type) re-encoded as SEC1 "EC PRIVATE KEY",
// preceded by an "EC PARAMETERS" block when `with_parameters`.
SecretData EcSec1KeyPem(ca::KeyType type, bool with_parameters, int slot = 0);
// CachedKeyPem(kRsa) encrypted with passphrase "test": as PKCS#8
// "ENCRYPTED PRIVATE KEY", and as PKCS#1 with "Proc-Type: 4,ENCRYPTED".
SecretData EncryptedPkcs8KeyPem();
SecretData EncryptedPkcs1KeyPem();

// A self-signed root: O=<organization>, valid [now - 2 min, now + ttl],
// key CachedKeyPem(type, slot). Chain empty; root bundle = the root.
ca::CaMaterialPem Root(ca::KeyType type = ca::KeyType::kRsa,
                       absl::Time now = absl::Now(), int slot = 0,
                       absl::Duration ttl = absl::Hours(24 * 3650),
                       const std::string& organization = "cluster.local");

// An intermediate CA signed by `parent` (which must validate at `now`):
// key CachedKeyPem(type, slot), chain [intermediate, parent path..., root],
// root bundle = the parent's.
ca::CaMaterialPem Intermediate(const ca::CaMaterialPem& parent,
                               ca::KeyType type = ca::KeyType::kEcP256,
                               absl::Time now = absl::Now(), int slot = 0,
                               absl::Duration ttl = absl::Hours(24 * 365));

// Root() that expired a day before `now` (valid for the 30 days before).
ca::CaMaterialPem ExpiredCa(absl::Time now = absl::Now());
// Root() whose validity starts a day after `now`.
ca::CaMaterialPem NotYetValidCa(absl::Time now = absl::Now());

// A workload-style certificate (CA:FALSE, keyUsage digitalSignature |
// keyEncipherment) signed by Root(kRsa, now), with its own key
// (CachedKeyPem(kEcP256, 7)). Chain [cert, root]; root bundle = the root.
ca::CaMaterialPem NonCaCert(absl::Time now = absl::Now());
// Like NonCaCert, but CA:TRUE with keyUsage digitalSignature only (no
// keyCertSign).
ca::CaMaterialPem CaWithoutCertSign(absl::Time now = absl::Now());
// A certificate with no basicConstraints at all, keyUsage keyCertSign,
// self-signed.
ca::CaMaterialPem CertWithoutBasicConstraints(absl::Time now = absl::Now());

// A self-signed CA (CA:TRUE, keyUsage keyCertSign | cRLSign) that has no
// subjectKeyIdentifier extension; key CachedKeyPem(kEcP256, 9).
ca::CaMaterialPem RootWithoutSki(absl::Time now = absl::Now());

// An intermediate CA without a path length constraint, signed by
// Root(kRsa, now), so it can itself sign intermediates; key
// CachedKeyPem(kEcP256, 10). Chain [intermediate, root]; root bundle = root.
ca::CaMaterialPem IntermediateWithoutPathLen(absl::Time now = absl::Now());

// A CA (key CachedKeyPem(kEcP256, 11)) issued by Intermediate(Root(kRsa,
// now)), whose pathLenConstraint 0 forbids it. The CA itself verifies, but
// nothing it issues would. Chain [ca, intermediate, root].
ca::CaMaterialPem BelowPathLenZero(absl::Time now = absl::Now());

// Root(kRsa, now) with the key of slot 1 instead of slot 0.
ca::CaMaterialPem MismatchedKey(absl::Time now = absl::Now());

// An intermediate of Root(kRsa, now, slot 0) with chain [intermediate]
// and a root bundle holding only an unrelated root (slot 1).
ca::CaMaterialPem ChainNotReachingRoot(absl::Time now = absl::Now());

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_TEST_PKI_H_
