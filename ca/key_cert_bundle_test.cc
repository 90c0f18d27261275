#include "ca/key_cert_bundle.h"

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "testing/test_pki.h"
#include "x509/chain_verify.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_unique_ptr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::vaultca::internal::SslUniquePtr;

// Cert times are whole seconds; a fixed instant keeps expectations exact.
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01.

std::shared_ptr<const KeyCertBundle> MustCreate(const CaMaterialPem& material,
                                                absl::Time now = kNow) {
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> bundle =
      KeyCertBundle::Create(material, now);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

absl::Status CreateStatus(const CaMaterialPem& material,
                          absl::Time now = kNow) {
  return KeyCertBundle::Create(material, now).status();
}

SslUniquePtr<X509> Cert(absl::string_view pem) {
  absl::StatusOr<SslUniquePtr<X509>> cert =
      x509::ParseCertificate(pem, "test");
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? *std::move(cert) : nullptr;
}

// SHA-256 over the DER, computed without the code under test.
std::string Fingerprint(absl::string_view pem) {
  SslUniquePtr<X509> cert = Cert(pem);
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(md), sizeof(md)));
}

TEST(KeyCertBundleTest, SelfSignedRootWithEmptyChainValidates) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  ASSERT_TRUE(root.chain_pem.empty());
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(root);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->key_type(), KeyType::kRsa);
  EXPECT_TRUE(bundle->self_signed());
  EXPECT_EQ(bundle->subject(), "O=cluster.local");
  EXPECT_EQ(bundle->cert_pem(), root.cert_pem);
  EXPECT_TRUE(bundle->chain_pems().empty());
  EXPECT_EQ(bundle->root_bundle_pem(), root.cert_pem);
  EXPECT_THAT(bundle->root_fingerprints(),
              ElementsAre(Fingerprint(root.cert_pem)));
  EXPECT_EQ(bundle->not_before(), kNow - absl::Minutes(2));
  EXPECT_EQ(bundle->not_after(), kNow + absl::Hours(24 * 3650));
  EXPECT_EQ(bundle->TimeToExpiry(kNow + absl::Hours(1)),
            absl::Hours(24 * 3650 - 1));
}

TEST(KeyCertBundleTest, SerialHexIsLowerCaseHexOfTheSerial) {
  std::shared_ptr<const KeyCertBundle> bundle =
      MustCreate(testkit::Root(KeyType::kEcP256, kNow));
  ASSERT_NE(bundle, nullptr);
  SslUniquePtr<X509> cert = Cert(bundle->cert_pem());
  SslUniquePtr<BIGNUM> expected(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  SslUniquePtr<BIGNUM> parsed;
  BIGNUM* raw = nullptr;
  ASSERT_GT(BN_hex2bn(&raw, bundle->serial_hex().c_str()), 0);
  parsed.reset(raw);
  EXPECT_EQ(BN_cmp(expected.get(), parsed.get()), 0);
  EXPECT_EQ(bundle->serial_hex().find_first_of("ABCDEF"), std::string::npos);
}

TEST(KeyCertBundleTest, EveryKeyTypeValidates) {
  for (KeyType type : {KeyType::kRsa, KeyType::kEcP256, KeyType::kEcP384,
                       KeyType::kEd25519}) {
    SCOPED_TRACE(KeyTypeName(type));
    std::shared_ptr<const KeyCertBundle> bundle =
        MustCreate(testkit::Root(type, kNow));
    ASSERT_NE(bundle, nullptr);
    EXPECT_EQ(bundle->key_type(), type);
  }
}

TEST(KeyCertBundleTest, IntermediateChainsToRoot) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  CaMaterialPem intermediate =
      testkit::Intermediate(root, KeyType::kEcP256, kNow);
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(intermediate);
  ASSERT_NE(bundle, nullptr);
  EXPECT_FALSE(bundle->self_signed());
  EXPECT_EQ(bundle->key_type(), KeyType::kEcP256);
  EXPECT_THAT(bundle->chain_pems(),
              ElementsAre(intermediate.cert_pem, root.cert_pem));
  EXPECT_EQ(bundle->root_bundle_pem(), root.cert_pem);
}

TEST(KeyCertBundleTest, ChainMayOmitSigningCertAndRoot) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  CaMaterialPem material = testkit::Intermediate(root, KeyType::kEcP256, kNow);
  for (const std::string& chain :
       {std::string(), root.cert_pem, material.cert_pem, std::string("\n \n")}) {
    material.chain_pem = chain;
    EXPECT_TRUE(CreateStatus(material).ok()) << chain;
  }
}

TEST(KeyCertBundleTest, ChainPemsKeepFileOrderAndDuplicates) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  CaMaterialPem material = testkit::Intermediate(root, KeyType::kEcP256, kNow);
  // Istio's cert-chain.pem may repeat certificates; istiod sends it as is.
  material.chain_pem = absl::StrCat("comment line\n", material.cert_pem,
                                    root.cert_pem, "\n", root.cert_pem);
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(material);
  ASSERT_NE(bundle, nullptr);
  EXPECT_THAT(bundle->chain_pems(),
              ElementsAre(material.cert_pem, root.cert_pem, root.cert_pem));
}

TEST(KeyCertBundleTest, SelfSignedRootMayListItselfAsChain) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  root.chain_pem = root.cert_pem;
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(root);
  ASSERT_NE(bundle, nullptr);
  EXPECT_THAT(bundle->chain_pems(), ElementsAre(root.cert_pem));
}

TEST(KeyCertBundleTest, MultiRootBundleVerifiesAgainstAnyRoot) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  CaMaterialPem other = testkit::Root(KeyType::kRsa, kNow, 1,
                                      absl::Hours(24 * 365), "other.example");
  CaMaterialPem material = testkit::Intermediate(root, KeyType::kEcP256, kNow);
  material.root_bundle_pem = other.cert_pem + root.cert_pem;
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(material);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->root_bundle_pem(), other.cert_pem + root.cert_pem);
  EXPECT_THAT(bundle->root_fingerprints(),
              ElementsAre(Fingerprint(other.cert_pem),
                          Fingerprint(root.cert_pem)));
  EXPECT_EQ(KeyCertBundleAccess::Anchor(*bundle) != nullptr, true);
  EXPECT_EQ(X509_cmp(KeyCertBundleAccess::Anchor(*bundle),
                     Cert(root.cert_pem).get()),
            0);
}

TEST(KeyCertBundleTest, AcceptsEveryKeyEncoding) {
  CaMaterialPem rsa = testkit::Root(KeyType::kRsa, kNow);
  rsa.key_pem = testkit::RsaPkcs1KeyPem();
  EXPECT_TRUE(CreateStatus(rsa).ok());
  for (bool with_parameters : {false, true}) {
    CaMaterialPem ec = testkit::Root(KeyType::kEcP384, kNow);
    ec.key_pem = testkit::EcSec1KeyPem(KeyType::kEcP384, with_parameters);
    EXPECT_TRUE(CreateStatus(ec).ok()) << with_parameters;
  }
}

// Each invalid input fails with its own code and a message naming it.
struct BadCase {
  std::string name;
  CaMaterialPem material;
  absl::StatusCode code;
  std::string message_prefix;
  std::string message_part;
};

std::vector<BadCase> BadCases() {
  CaMaterialPem good = testkit::Root(KeyType::kRsa, kNow);
  std::vector<BadCase> cases;
  auto add = [&cases](std::string name, CaMaterialPem material,
                      absl::StatusCode code, std::string prefix,
                      std::string part) {
    cases.push_back({std::move(name), std::move(material), code,
                     std::move(prefix), std::move(part)});
  };
  auto with = [&good](auto mutate) {
    CaMaterialPem copy = good;
    mutate(copy);
    return copy;
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  const auto kPrecondition = absl::StatusCode::kFailedPrecondition;

  add("empty cert", with([](CaMaterialPem& m) { m.cert_pem = ""; }), kInvalid,
      "cert: no PEM certificate found", "");
  add("garbage cert", with([](CaMaterialPem& m) { m.cert_pem = "hello"; }),
      kInvalid, "cert: no PEM certificate found", "");
  add("key as cert",
      with([](CaMaterialPem& m) {
        m.cert_pem = std::string(testkit::CachedKeyPem(KeyType::kEcP256).view());
      }),
      kInvalid, "cert: PEM block 1 is a 'PRIVATE KEY'", "");
  add("two certs as cert",
      with([](CaMaterialPem& m) { m.cert_pem += m.cert_pem; }), kInvalid,
      "cert: expected exactly one certificate, found 2", "");
  add("empty key", with([](CaMaterialPem& m) { m.key_pem = SecretData(); }),
      kInvalid, "key: no PEM private key found", "");
  add("cert as key",
      with([](CaMaterialPem& m) { m.key_pem = SecretData(m.cert_pem); }),
      kInvalid, "key: PEM block 1 is a 'CERTIFICATE'", "");
  add("encrypted PKCS#8 key",
      with([](CaMaterialPem& m) { m.key_pem = testkit::EncryptedPkcs8KeyPem(); }),
      kInvalid, "key: the private key is encrypted", "");
  add("encrypted PKCS#1 key",
      with([](CaMaterialPem& m) { m.key_pem = testkit::EncryptedPkcs1KeyPem(); }),
      kInvalid, "key: the private key is encrypted", "");
  add("RSA-1024 key",
      with([](CaMaterialPem& m) { m.key_pem = testkit::Rsa1024KeyPem(); }),
      kInvalid, "key: RSA key of 1024 bits is too weak", "");
  add("P-521 key",
      with([](CaMaterialPem& m) { m.key_pem = testkit::P521KeyPem(); }),
      kInvalid, "key: unsupported EC curve secp521r1", "");
  add("garbage chain", with([](CaMaterialPem& m) { m.chain_pem = "junk"; }),
      kInvalid, "chain: no PEM certificate found", "");
  add("key in chain",
      with([](CaMaterialPem& m) {
        m.chain_pem =
            m.cert_pem +
            std::string(testkit::CachedKeyPem(KeyType::kEcP256).view());
      }),
      kInvalid, "chain: PEM block 2 is a 'PRIVATE KEY'", "");
  add("empty root bundle",
      with([](CaMaterialPem& m) { m.root_bundle_pem = " \n"; }), kInvalid,
      "root bundle: no PEM certificate found", "");
  add("garbage root bundle",
      with([](CaMaterialPem& m) {
        m.root_bundle_pem =
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
      }),
      kInvalid, "root bundle: certificate 1 is not a valid X.509 certificate",
      "");
  add("mismatched key", testkit::MismatchedKey(kNow), kInvalid,
      "key: the private key does not match the public key of the signing "
      "certificate 'O=cluster.local'",
      "");
  add("non-CA cert", testkit::NonCaCert(kNow), kInvalid,
      "cert: the signing certificate 'CN=workload' is not a CA", "");
  add("no basicConstraints", testkit::CertWithoutBasicConstraints(kNow),
      kInvalid, "cert: the signing certificate 'CN=no basicConstraints' is "
                "not a CA",
      "");
  add("CA without keyCertSign", testkit::CaWithoutCertSign(kNow), kInvalid,
      "cert: the signing certificate 'CN=ca without keyCertSign' may not sign",
      "keyCertSign");
  add("expired", testkit::ExpiredCa(kNow), kPrecondition,
      "cert: the signing certificate 'O=cluster.local' expired at "
      "2025-12-31T00:00:00+00:00",
      "install renewed CA material");
  add("not yet valid", testkit::NotYetValidCa(kNow), kPrecondition,
      "cert: the signing certificate 'O=cluster.local' is not yet valid: "
      "notBefore 2026-01-01T23:58:00+00:00",
      "");
  add("chain not reaching root", testkit::ChainNotReachingRoot(kNow), kInvalid,
      "chain: the signing certificate does not verify to any root",
      "unable to get local issuer certificate");
  CaMaterialPem foreign_root = testkit::ChainNotReachingRoot(kNow);
  foreign_root.chain_pem += testkit::Root(KeyType::kRsa, kNow).cert_pem;
  add("chain ends in another root", foreign_root, kInvalid,
      "chain: the signing certificate does not verify to any root",
      "self-signed certificate in certificate chain");
  add("root not in bundle",
      with([](CaMaterialPem& m) {
        m.root_bundle_pem =
            testkit::Root(KeyType::kRsa, kNow, 1).cert_pem;
      }),
      kInvalid, "chain: the signing certificate does not verify to any root",
      "self-signed certificate");
  return cases;
}

TEST(KeyCertBundleTest, EachInvalidInputFailsWithItsOwnError) {
  for (const BadCase& bad : BadCases()) {
    SCOPED_TRACE(bad.name);
    absl::Status status = CreateStatus(bad.material);
    EXPECT_EQ(status.code(), bad.code) << status;
    EXPECT_THAT(std::string(status.message()), StartsWith(bad.message_prefix));
    EXPECT_THAT(std::string(status.message()), HasSubstr(bad.message_part));
  }
}

// Valid from notBefore inclusive to notAfter exclusive, as OpenSSL's path
// validation counts it.
TEST(KeyCertBundleTest, ValidityBoundaries) {
  CaMaterialPem root = testkit::Root(KeyType::kEcP256, kNow);
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(root);
  ASSERT_NE(bundle, nullptr);
  EXPECT_TRUE(CreateStatus(root, bundle->not_before()).ok());
  EXPECT_TRUE(CreateStatus(root, bundle->not_after() - absl::Seconds(1)).ok());
  absl::Status early =
      CreateStatus(root, bundle->not_before() - absl::Seconds(1));
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(early.message()), HasSubstr("is not yet valid"));
  absl::Status late = CreateStatus(root, bundle->not_after());
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.message()), HasSubstr("expired at"));
}

TEST(KeyCertBundleTest, ExpiredCertificateAboveSignerIsFailedPrecondition) {
  CaMaterialPem expired = testkit::ExpiredCa(kNow);
  SslUniquePtr<X509> cert = Cert(expired.cert_pem);
  SslUniquePtr<STACK_OF(X509)> roots(sk_X509_new_null());
  ASSERT_EQ(sk_X509_push(roots.get(), X509_dup(cert.get())), 1);
  absl::Status status =
      x509::VerifyToRoots(cert.get(), nullptr, roots.get(), kNow, "chain")
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("certificate has expired"));
  EXPECT_TRUE(x509::VerifyToRoots(cert.get(), nullptr, roots.get(),
                                      kNow - absl::Hours(24 * 3), "chain")
                  .ok());
}

// A signing CA below a pathlen:0 intermediate verifies on its own, but no
// certificate it issued would: refuse it at load time.
TEST(KeyCertBundleTest, PathLengthConstraintAboveSignerIsEnforced) {
  absl::Status status = CreateStatus(testkit::BelowPathLenZero(kNow));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()),
              StartsWith("chain: certificate 'CN=vaultca intermediate,"
                         "O=cluster.local' has pathLenConstraint 0 but 1 "
                         "intermediate CA(s)"));
  // GenerateIntermediate refuses to create such a CA in the first place.
  std::shared_ptr<const KeyCertBundle> parent = MustCreate(
      testkit::Intermediate(testkit::Root(KeyType::kRsa, kNow),
                            KeyType::kEcP256, kNow));
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 3);
  options.now = kNow;
  status = GenerateIntermediate(*parent, options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("has pathLenConstraint 0"));
}

TEST(KeyTypeNameTest, NamesEveryType) {
  EXPECT_EQ(KeyTypeName(KeyType::kRsa), "RSA");
  EXPECT_EQ(KeyTypeName(KeyType::kEcP256), "EC P-256");
  EXPECT_EQ(KeyTypeName(KeyType::kEcP384), "EC P-384");
  EXPECT_EQ(KeyTypeName(KeyType::kEd25519), "Ed25519");
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
