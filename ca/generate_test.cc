#include "ca/generate.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/test_pki.h"
#include "x509/key_util.h"
#include "x509/pem.h"
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

const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01.

SslUniquePtr<X509> Cert(absl::string_view pem) {
  absl::StatusOr<SslUniquePtr<X509>> cert =
      x509::ParseCertificate(pem, "test");
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? *std::move(cert) : nullptr;
}

std::shared_ptr<const KeyCertBundle> Bundle(const CaMaterialPem& material,
                                            absl::Time now = kNow) {
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> bundle =
      KeyCertBundle::Create(material, now);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

CaMaterialPem MustRoot(KeyType type, absl::Time now = kNow) {
  RootOptions options;
  options.key_pem = testkit::CachedKeyPem(type);
  options.now = now;
  absl::StatusOr<CaMaterialPem> root = GenerateSelfSignedRoot(options);
  EXPECT_TRUE(root.ok()) << root.status();
  return root.ok() ? *root : CaMaterialPem();
}

// The extension `nid` of `cert`, checking its criticality.
template <typename T>
SslUniquePtr<T> Extension(X509* cert, int nid, bool critical) {
  int crit = -1;
  void* ext = X509_get_ext_d2i(cert, nid, &crit, nullptr);
  EXPECT_NE(ext, nullptr) << OBJ_nid2sn(nid);
  EXPECT_EQ(crit, critical ? 1 : 0) << OBJ_nid2sn(nid);
  return SslUniquePtr<T>(static_cast<T*>(ext));
}

TEST(GeneratePrivateKeyPemTest, EveryTypeIsFreshPkcs8) {
  for (KeyType type : {KeyType::kRsa, KeyType::kEcP256, KeyType::kEcP384,
                       KeyType::kEd25519}) {
    SCOPED_TRACE(KeyTypeName(type));
    absl::StatusOr<SecretData> a = GeneratePrivateKeyPem(type);
    absl::StatusOr<SecretData> b = GeneratePrivateKeyPem(type);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_THAT(std::string(a->view()),
                StartsWith("-----BEGIN PRIVATE KEY-----\n"));
    EXPECT_FALSE(SecretEquals(*a, *b));
    absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
        x509::ParsePrivateKey(*a, "key");
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<KeyType> parsed = x509::ClassifyKey(key->get(), "key");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, type);
  }
}

TEST(GenerateSelfSignedRootTest, MatchesIstiodProfile) {
  RootOptions options;
  options.organization = "example.org";
  options.key_pem = testkit::CachedKeyPem(KeyType::kRsa);
  options.now = kNow;
  absl::StatusOr<CaMaterialPem> root = GenerateSelfSignedRoot(options);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(root->chain_pem.empty());
  EXPECT_EQ(root->root_bundle_pem, root->cert_pem);

  SslUniquePtr<X509> cert = Cert(root->cert_pem);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  std::shared_ptr<const KeyCertBundle> bundle = Bundle(*root);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->subject(), "O=example.org");
  EXPECT_TRUE(bundle->self_signed());
  EXPECT_EQ(bundle->not_before(), kNow - absl::Minutes(2));
  EXPECT_EQ(bundle->not_after(), kNow + absl::Hours(24 * 365 * 10));

  SslUniquePtr<BASIC_CONSTRAINTS> bc =
      Extension<BASIC_CONSTRAINTS>(cert.get(), NID_basic_constraints, true);
  ASSERT_NE(bc, nullptr);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(bc->pathlen, nullptr);
  SslUniquePtr<ASN1_BIT_STRING> ku(static_cast<ASN1_BIT_STRING*>(
      X509_get_ext_d2i(cert.get(), NID_key_usage, nullptr, nullptr)));
  ASSERT_NE(ku, nullptr);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(
                cert.get(), X509_get_ext_by_NID(cert.get(), NID_key_usage, -1))),
            1);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(X509_get_ext_by_NID(cert.get(), NID_authority_key_identifier, -1),
            -1);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_sha256WithRSAEncryption);
  // The supplied key is certified and returned (as PKCS#8).
  EXPECT_TRUE(SecretEquals(root->key_pem, testkit::CachedKeyPem(KeyType::kRsa)));
}

TEST(GenerateSelfSignedRootTest, SignatureAlgorithmFollowsKeyType) {
  struct {
    KeyType type;
    int nid;
  } const cases[] = {{KeyType::kRsa, NID_sha256WithRSAEncryption},
                     {KeyType::kEcP256, NID_ecdsa_with_SHA256},
                     {KeyType::kEcP384, NID_ecdsa_with_SHA384},
                     {KeyType::kEd25519, NID_ED25519}};
  for (const auto& c : cases) {
    SCOPED_TRACE(KeyTypeName(c.type));
    CaMaterialPem root = MustRoot(c.type);
    SslUniquePtr<X509> cert = Cert(root.cert_pem);
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(X509_get_signature_nid(cert.get()), c.nid);
  }
}

TEST(GenerateSelfSignedRootTest, GeneratesKeyWhenNoneGiven) {
  RootOptions options;
  options.key_type = KeyType::kEcP384;
  options.now = kNow;
  absl::StatusOr<CaMaterialPem> root = GenerateSelfSignedRoot(options);
  ASSERT_TRUE(root.ok()) << root.status();
  std::shared_ptr<const KeyCertBundle> bundle = Bundle(*root);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->key_type(), KeyType::kEcP384);
  EXPECT_EQ(bundle->subject(), "O=cluster.local");
}

TEST(GenerateSelfSignedRootTest, SerialsAreRandom128Bit) {
  std::set<std::string> serials;
  int max_bits = 0;
  for (int i = 0; i < 32; ++i) {
    SslUniquePtr<X509> cert = Cert(MustRoot(KeyType::kEcP256).cert_pem);
    SslUniquePtr<BIGNUM> serial(
        ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    int bits = BN_num_bits(serial.get());
    EXPECT_LE(bits, 128);
    EXPECT_GT(bits, 0);
    max_bits = std::max(max_bits, bits);
    char* hex = BN_bn2hex(serial.get());
    serials.insert(hex);
    OPENSSL_free(hex);
  }
  EXPECT_EQ(serials.size(), 32u);
  // 32 draws all below 2^120 happen with probability 2^-256.
  EXPECT_GT(max_bits, 120);
}

TEST(GenerateSelfSignedRootTest, RejectsBadOptions) {
  RootOptions zero_ttl;
  zero_ttl.ttl = absl::ZeroDuration();
  zero_ttl.key_pem = testkit::CachedKeyPem(KeyType::kEcP256);
  EXPECT_EQ(GenerateSelfSignedRoot(zero_ttl).status().code(),
            absl::StatusCode::kInvalidArgument);

  RootOptions no_org;
  no_org.organization = "";
  no_org.key_pem = testkit::CachedKeyPem(KeyType::kEcP256);
  EXPECT_EQ(GenerateSelfSignedRoot(no_org).status().code(),
            absl::StatusCode::kInvalidArgument);

  RootOptions weak;
  weak.key_pem = testkit::Rsa1024KeyPem();
  absl::Status status = GenerateSelfSignedRoot(weak).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("key: RSA key of 1024 bits"));

  RootOptions encrypted;
  encrypted.key_pem = testkit::EncryptedPkcs8KeyPem();
  EXPECT_THAT(std::string(GenerateSelfSignedRoot(encrypted).status().message()),
              StartsWith("key: the private key is encrypted"));
}

TEST(GenerateIntermediateTest, MatchesProfileAndChainsToParent) {
  CaMaterialPem root = MustRoot(KeyType::kRsa);
  std::shared_ptr<const KeyCertBundle> parent = Bundle(root);
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.organization = "example.org";
  options.common_name = "istiod intermediate";
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP384);
  options.ttl = absl::Hours(24 * 30);
  options.now = kNow;
  absl::StatusOr<CaMaterialPem> intermediate =
      GenerateIntermediate(*parent, options);
  ASSERT_TRUE(intermediate.ok()) << intermediate.status();
  EXPECT_EQ(intermediate->chain_pem, intermediate->cert_pem + root.cert_pem);
  EXPECT_EQ(intermediate->root_bundle_pem, root.cert_pem);

  std::shared_ptr<const KeyCertBundle> bundle = Bundle(*intermediate);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->subject(), "CN=istiod intermediate,O=example.org");
  EXPECT_EQ(bundle->key_type(), KeyType::kEcP384);
  EXPECT_FALSE(bundle->self_signed());
  EXPECT_EQ(bundle->not_before(), kNow - absl::Minutes(2));
  EXPECT_EQ(bundle->not_after(), kNow + absl::Hours(24 * 30));
  EXPECT_THAT(bundle->chain_pems(),
              ElementsAre(intermediate->cert_pem, root.cert_pem));

  SslUniquePtr<X509> cert = Cert(intermediate->cert_pem);
  SslUniquePtr<X509> root_cert = Cert(root.cert_pem);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()),
                          X509_get_subject_name(root_cert.get())),
            0);
  SslUniquePtr<BASIC_CONSTRAINTS> bc =
      Extension<BASIC_CONSTRAINTS>(cert.get(), NID_basic_constraints, true);
  ASSERT_NE(bc, nullptr);
  EXPECT_TRUE(bc->ca);
  ASSERT_NE(bc->pathlen, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  SslUniquePtr<AUTHORITY_KEYID> aki = Extension<AUTHORITY_KEYID>(
      cert.get(), NID_authority_key_identifier, false);
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki->keyid,
                                  X509_get0_subject_key_id(root_cert.get())),
            0);
  // Signed by the parent's RSA key, so SHA-256 with RSA.
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_sha256WithRSAEncryption);
}

TEST(GenerateIntermediateTest, NotAfterIsClampedToParent) {
  CaMaterialPem root = testkit::Root(KeyType::kEcP256, kNow, 0,
                                     absl::Hours(24 * 10));
  std::shared_ptr<const KeyCertBundle> parent = Bundle(root);
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 1);
  options.ttl = absl::Hours(24 * 365);
  options.now = kNow + absl::Hours(24);
  absl::StatusOr<CaMaterialPem> intermediate =
      GenerateIntermediate(*parent, options);
  ASSERT_TRUE(intermediate.ok()) << intermediate.status();
  std::shared_ptr<const KeyCertBundle> bundle =
      Bundle(*intermediate, options.now);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->not_after(), parent->not_after());
  EXPECT_EQ(bundle->not_before(), options.now - absl::Minutes(2));
}

TEST(GenerateIntermediateTest, ChainHoldsEachCertificateOnce) {
  // A parent root whose chain lists the root itself, as cert-chain.pem may.
  CaMaterialPem root = MustRoot(KeyType::kEcP256);
  root.chain_pem = root.cert_pem;
  std::shared_ptr<const KeyCertBundle> parent = Bundle(root);
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 1);
  options.now = kNow;
  absl::StatusOr<CaMaterialPem> intermediate =
      GenerateIntermediate(*parent, options);
  ASSERT_TRUE(intermediate.ok()) << intermediate.status();
  EXPECT_EQ(intermediate->chain_pem, intermediate->cert_pem + root.cert_pem);
}

TEST(GenerateIntermediateTest, UnderAnIntermediateChainRunsToTheRoot) {
  CaMaterialPem middle = testkit::IntermediateWithoutPathLen(kNow);
  std::shared_ptr<const KeyCertBundle> parent = Bundle(middle);
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 2);
  options.ttl = absl::Hours(1);
  options.now = kNow;
  absl::StatusOr<CaMaterialPem> leaf_ca = GenerateIntermediate(*parent, options);
  ASSERT_TRUE(leaf_ca.ok()) << leaf_ca.status();
  // [new intermediate, parent, root]; the parent's chain already ended in
  // the root, which must not be repeated.
  EXPECT_EQ(leaf_ca->chain_pem, leaf_ca->cert_pem + middle.chain_pem);
  EXPECT_EQ(leaf_ca->root_bundle_pem, middle.root_bundle_pem);
  std::shared_ptr<const KeyCertBundle> bundle = Bundle(*leaf_ca);
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->chain_pems().size(), 3u);
}

TEST(GenerateIntermediateTest, RefusesExpiredParent) {
  CaMaterialPem root = testkit::Root(KeyType::kEcP256, kNow, 0, absl::Hours(2));
  std::shared_ptr<const KeyCertBundle> parent = Bundle(root);
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 1);
  options.now = kNow + absl::Hours(3);
  absl::Status status = GenerateIntermediate(*parent, options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("renew the parent"));
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
