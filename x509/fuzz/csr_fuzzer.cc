// Fuzzes CSR parsing as a CA sees it: the PEM text of
// IstioCertificateRequest.csr and, under it, the DER splitter, key policy,
// self-signature check and SAN/extension reading.
//
// The first byte picks how the rest is read: bit 0 clear, as the PEM text
// sent; set, as DER (wrapped in a PEM block, and split directly), so the
// mutations work on the ASN.1 and not on base64. Bit 1 allows Ed25519.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <openssl/objects.h>

#include "testing/csr.h"
#include "x509/csr.h"
#include "x509/internal/csr_der.h"
#include "x509/pem_codec.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"

namespace vaultca {
namespace fuzzing {
namespace {

void CheckParsed(const absl::StatusOr<x509::ParsedCsr>& csr) {
  if (!csr.ok()) {
    Check(csr.status().code() == absl::StatusCode::kInvalidArgument,
          "CSR failures are InvalidArgument");
    return;
  }
  Check(!csr->public_key_der().empty() && csr->key_bits() > 0,
        "a parsed CSR has a key");
  for (const x509::CsrExtension& e : csr->extensions()) {
    Check(!e.oid.empty(), "extension OIDs are dotted text");
  }
}

}  // namespace

std::vector<std::string> Seeds() {
  using testkit::TestCsrOptions;
  std::vector<TestCsrOptions> variants(8);
  variants[0].sans = {"URI:spiffe://cluster.local/ns/default/sa/sleep"};
  variants[0].with_organization = true;  // istio-agent's empty O=.
  variants[1].key = "RSA:2048";
  variants[1].common_names = {"a", "b"};
  variants[1].sans = {"DNS:sleep.default.svc", "IP:10.0.0.1", "IP:2001:db8::1",
                      "email:a@b.c", "otherName:1.2.3.4;UTF8:x"};
  variants[1].san_critical = false;
  variants[2].key = "EC:P-384";
  variants[2].extensions = {{NID_key_usage, "critical,digitalSignature"},
                            {NID_basic_constraints, "CA:FALSE"}};
  variants[3].key = "ED25519";
  variants[3].sans = {"URI:spiffe://td/x"};
  variants[4].digest = "SHA1";
  variants[5].compressed_point = true;
  variants[6].key = "EC:secp256k1";
  variants[7].digest = "SHA512";
  variants[7].sans = {"URI:spiffe://cluster.local/ns/a/sa/b",
                      "URI:spiffe://cluster.local/ns/c/sa/d"};

  std::vector<std::string> seeds;
  for (const TestCsrOptions& v : variants) {
    seeds.push_back(std::string(1, '\x00') + testkit::TestCsrPem(v));
    seeds.push_back(std::string(1, '\x01') + testkit::TestCsrDer(v));
  }
  // Ed25519 with the policy allowing it, to reach its signature check.
  seeds.push_back(std::string(1, '\x03') + testkit::TestCsrDer(variants[3]));
  seeds.push_back(std::string(1, '\x00') +
                  testkit::WithBrokenSignature(
                      testkit::TestCsrPem(variants[0])));
  seeds.push_back(std::string(1, '\x00') +
                  "junk\n-----BEGIN NEW CERTIFICATE REQUEST-----\nAAAA\n"
                  "-----END NEW CERTIFICATE REQUEST-----\n");
  Check(x509::ParsedCsr::Parse(seeds[0].substr(1)).ok(), "the seed CSR parses");
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace x509 = ::vaultca::x509;
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  x509::CsrPolicy policy;
  policy.allow_ed25519 = (data[0] & 2) != 0;
  if ((data[0] & 1) == 0) {
    ::vaultca::fuzzing::CheckParsed(x509::ParsedCsr::Parse(rest, policy));
  } else {
    x509::internal::CsrParts parts;
    (void)x509::internal::SplitCsr(rest, &parts);
    ::vaultca::fuzzing::CheckParsed(x509::ParsedCsr::Parse(
        x509::EncodePem("CERTIFICATE REQUEST", rest), policy));
  }
  return 0;
}
