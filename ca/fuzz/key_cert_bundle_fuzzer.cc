// Fuzzes CA material parsing and validation: what a Vault KV secret, an
// Istio cacerts directory or a config file hands KeyCertBundle::Create
// (certificate, private key in every accepted encoding, chain, roots), and
// the PEM helpers under it.
//
// Input (FuzzInput framing): fields cert PEM, key PEM, chain PEM, root
// bundle PEM.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "testing/test_pki.h"
#include "x509/pem.h"
#include "x509/pem_codec.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"
#include "common/testing/fuzz_input.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"

namespace vaultca {
namespace fuzzing {
namespace {

std::string Encode(const ca::CaMaterialPem& m) {
  return FuzzInputWriter()
      .Field(m.cert_pem)
      .Field(m.key_pem.view())
      .Field(m.chain_pem)
      .Field(m.root_bundle_pem)
      .data();
}

// The PEM helpers on one field, whatever it was meant to be.
void ParsePemField(const std::string& text) {
  namespace ci = ::vaultca::x509;
  ci::PemBlock block;
  if (ci::DecodeFirstPemBlock(text, &block) == ci::PemDecodeResult::kOk) {
    Check(ci::DecodeFirstPemBlock(ci::EncodePem(block.label, block.der),
                                  &block) == ci::PemDecodeResult::kOk,
          "EncodePem output decodes");
  }
  auto certs = ci::ParseCertificates(text, "fuzz");
  if (certs.ok()) {
    for (const auto& cert : *certs) {
      Check(ci::CertificateToPem(cert.get()).ok(), "a parsed cert encodes");
    }
  }
  (void)ci::ParseCertificateStack(text, "fuzz", /*allow_empty=*/true);
  (void)ci::ParsePrivateKey(SecretData(text), "fuzz");
}

}  // namespace

std::vector<std::string> Seeds() {
  namespace t = ::vaultca::testkit;
  using ca::KeyType;
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem root = t::Root(KeyType::kRsa, now);
  ca::CaMaterialPem ec_root = t::Root(KeyType::kEcP256, now, 1);
  std::vector<std::string> seeds = {Encode(root), Encode(ec_root)};
  Check(ca::KeyCertBundle::Create(root, now).ok(), "the seed root validates");

  ec_root.key_pem = t::EcSec1KeyPem(KeyType::kEcP256, true, 1);
  seeds.push_back(Encode(ec_root));
  ca::CaMaterialPem pkcs1 = root;
  pkcs1.key_pem = t::RsaPkcs1KeyPem();
  seeds.push_back(Encode(pkcs1));
  pkcs1.key_pem = t::EncryptedPkcs1KeyPem();
  seeds.push_back(Encode(pkcs1));
  pkcs1.key_pem = t::EncryptedPkcs8KeyPem();
  seeds.push_back(Encode(pkcs1));
  seeds.push_back(Encode(t::Intermediate(root, KeyType::kEcP384, now)));
  seeds.push_back(Encode(t::ExpiredCa(now)));
  seeds.push_back(Encode(t::NonCaCert(now)));
  seeds.push_back(Encode(t::MismatchedKey(now)));
  seeds.push_back(Encode(t::ChainNotReachingRoot(now)));
  seeds.push_back(Encode(t::BelowPathLenZero(now)));
  return seeds;
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ::vaultca::fuzzing::Check;
  ::vaultca::fuzzing::FuzzInput in(data, size);
  ::vaultca::ca::CaMaterialPem material;
  material.cert_pem = in.Field();
  material.key_pem = ::vaultca::SecretData(in.Field());
  material.chain_pem = in.Field();
  material.root_bundle_pem = in.Field();
  auto bundle = ::vaultca::ca::KeyCertBundle::Create(material);
  if (bundle.ok()) {
    Check(!(*bundle)->cert_pem().empty() &&
              !(*bundle)->root_fingerprints().empty(),
          "a valid bundle has a cert and roots");
  } else {
    const absl::StatusCode code = bundle.status().code();
    Check(code == absl::StatusCode::kInvalidArgument ||
              code == absl::StatusCode::kFailedPrecondition,
          "material failures are InvalidArgument or FailedPrecondition");
  }
  ::vaultca::fuzzing::ParsePemField(material.cert_pem);
  ::vaultca::fuzzing::ParsePemField(std::string(material.key_pem.view()));
  return 0;
}
