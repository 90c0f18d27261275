#ifndef VAULTCA_TESTING_CSR_H_
#define VAULTCA_TESTING_CSR_H_

// CSRs built at test time, including the malformed and refused kinds a CA
// must reject. For tests and benchmarks only: every function aborts the
// process with a message when OpenSSL fails, since nothing can go on
// without the fixture.

#include <openssl/evp.h>

#include <string>
#include <utility>
#include <vector>

namespace vaultca {
namespace testkit {

// A private key for `spec`: "RSA:<bits>", "EC:<curve>" (P-256, P-384,
// P-521, secp256k1, ...), "ED25519" or "ED448". The same spec and slot
// always yield the same key within a process (RSA generation is slow).
// Owned by the cache. Thread-safe.
EVP_PKEY* CachedCsrKey(const std::string& spec, int slot = 0);

struct TestCsrOptions {
  // Key spec for CachedCsrKey.
  std::string key = "EC:P-256";
  int key_slot = 0;
  // Subject: O=<organization> when `with_organization` (istio-agent sends
  // an empty O=), then each CN in order.
  bool with_organization = false;
  std::string organization;
  std::vector<std::string> common_names;
  // subjectAltName entries in OpenSSL config syntax ("URI:spiffe://...",
  // "DNS:a.b", "IP:10.0.0.1", "email:a@b", "otherName:1.2.3;UTF8:x").
  // No SAN extension when empty.
  std::vector<std::string> sans;
  bool san_critical = true;
  // More extensions, as (NID, OpenSSL config value) pairs, e.g.
  // {NID_key_usage, "critical,digitalSignature"}.
  std::vector<std::pair<int, std::string>> extensions;
  // Signature digest ("SHA256", "SHA1", ...); ignored for Ed25519/Ed448.
  std::string digest = "SHA256";
  // Encode an EC key's point compressed.
  bool compressed_point = false;
};

// Returns a CSR for `options`, PEM ("CERTIFICATE REQUEST").
std::string TestCsrPem(const TestCsrOptions& options = TestCsrOptions());
// The same CSR as DER.
std::string TestCsrDer(const TestCsrOptions& options = TestCsrOptions());

// A CSR as istio-agent sends it: an empty O=, `identities` as critical URI
// SANs, key CachedCsrKey(key, slot).
std::string AgentCsrPem(const std::vector<std::string>& identities,
                        const std::string& key = "EC:P-256", int slot = 0);

// Returns `csr_pem` with one bit of its signature flipped.
std::string WithBrokenSignature(const std::string& csr_pem);

// Returns the SubjectPublicKeyInfo DER of CachedCsrKey(spec, slot).
std::string PublicKeyDer(const std::string& spec, int slot = 0);

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_CSR_H_
