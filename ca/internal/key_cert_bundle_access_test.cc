#include "ca/internal/key_cert_bundle_access.h"

#include <openssl/x509v3.h>

#include <memory>
#include <thread>
#include <vector>

#include "ca/generate.h"
#include "testing/test_pki.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_unique_ptr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::ElementsAre;
using ::vaultca::internal::SslUniquePtr;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01.

std::shared_ptr<const KeyCertBundle> MustCreate(const CaMaterialPem& material) {
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> bundle =
      KeyCertBundle::Create(material, kNow);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

SslUniquePtr<X509> Cert(absl::string_view pem) {
  absl::StatusOr<SslUniquePtr<X509>> cert =
      x509::ParseCertificate(pem, "test");
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? *std::move(cert) : nullptr;
}

TEST(KeyCertBundleAccessTest, AccessExposesPrecomputedSigningState) {
  struct {
    KeyType type;
    const char* digest;
  } const cases[] = {{KeyType::kRsa, "SHA256"},
                     {KeyType::kEcP256, "SHA256"},
                     {KeyType::kEcP384, "SHA384"},
                     {KeyType::kEd25519, nullptr}};
  for (const auto& c : cases) {
    SCOPED_TRACE(KeyTypeName(c.type));
    CaMaterialPem root = testkit::Root(c.type, kNow);
    std::shared_ptr<const KeyCertBundle> bundle = MustCreate(root);
    ASSERT_NE(bundle, nullptr);
    SslUniquePtr<X509> cert = Cert(root.cert_pem);
    EXPECT_EQ(X509_cmp(KeyCertBundleAccess::SigningCert(*bundle), cert.get()),
              0);
    EXPECT_EQ(EVP_PKEY_eq(KeyCertBundleAccess::SigningKey(*bundle),
                          X509_get0_pubkey(cert.get())),
              1);
    EXPECT_EQ(X509_NAME_cmp(KeyCertBundleAccess::SubjectName(*bundle),
                            X509_get_subject_name(cert.get())),
              0);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(KeyCertBundleAccess::SubjectKeyId(*bundle),
                                    X509_get0_subject_key_id(cert.get())),
              0);
    const EVP_MD* md = KeyCertBundleAccess::SignatureDigest(*bundle);
    if (c.digest == nullptr) {
      EXPECT_EQ(md, nullptr);
    } else {
      ASSERT_NE(md, nullptr);
      EXPECT_TRUE(EVP_MD_is_a(md, c.digest));
    }
    EXPECT_EQ(sk_X509_num(KeyCertBundleAccess::Roots(*bundle)), 1);
    EXPECT_EQ(sk_X509_num(KeyCertBundleAccess::Chain(*bundle)), 0);
    EXPECT_EQ(sk_X509_num(KeyCertBundleAccess::VerifiedPath(*bundle)), 1);

    // The prebuilt AKI carries exactly the signing cert's key id.
    const X509_EXTENSION* aki_ext =
        KeyCertBundleAccess::AuthorityKeyIdExtension(*bundle);
    ASSERT_NE(aki_ext, nullptr);
    EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(
                  const_cast<X509_EXTENSION*>(aki_ext))),
              NID_authority_key_identifier);
    EXPECT_EQ(X509_EXTENSION_get_critical(aki_ext), 0);
    SslUniquePtr<AUTHORITY_KEYID> aki(static_cast<AUTHORITY_KEYID*>(
        X509V3_EXT_d2i(const_cast<X509_EXTENSION*>(aki_ext))));
    ASSERT_NE(aki, nullptr);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki->keyid,
                                    X509_get0_subject_key_id(cert.get())),
              0);
    EXPECT_EQ(aki->issuer, nullptr);
    EXPECT_EQ(aki->serial, nullptr);
  }
}

TEST(KeyCertBundleAccessTest, MissingSkiIsComputedLikeOpenSslHash) {
  CaMaterialPem no_ski = testkit::RootWithoutSki(kNow);
  ASSERT_EQ(X509_get0_subject_key_id(Cert(no_ski.cert_pem).get()), nullptr);
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(no_ski);
  ASSERT_NE(bundle, nullptr);
  // A root over the same key with OpenSSL's "hash" SKI gives the reference.
  RootOptions options;
  options.key_pem = no_ski.key_pem;
  options.now = kNow;
  absl::StatusOr<CaMaterialPem> reference = GenerateSelfSignedRoot(options);
  ASSERT_TRUE(reference.ok()) << reference.status();
  SslUniquePtr<X509> reference_cert = Cert(reference->cert_pem);
  const ASN1_OCTET_STRING* expected =
      X509_get0_subject_key_id(reference_cert.get());
  ASSERT_NE(expected, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(KeyCertBundleAccess::SubjectKeyId(*bundle),
                                  expected),
            0);
}

TEST(KeyCertBundleAccessTest, VerifiedPathRunsFromSignerToRoot) {
  CaMaterialPem root = testkit::Root(KeyType::kRsa, kNow);
  CaMaterialPem intermediate =
      testkit::Intermediate(root, KeyType::kEcP384, kNow);
  std::shared_ptr<const KeyCertBundle> bundle = MustCreate(intermediate);
  ASSERT_NE(bundle, nullptr);
  STACK_OF(X509)* path = KeyCertBundleAccess::VerifiedPath(*bundle);
  ASSERT_EQ(sk_X509_num(path), 2);
  EXPECT_EQ(X509_cmp(sk_X509_value(path, 0), Cert(intermediate.cert_pem).get()),
            0);
  EXPECT_EQ(X509_cmp(sk_X509_value(path, 1), Cert(root.cert_pem).get()), 0);
  EXPECT_EQ(KeyCertBundleAccess::Anchor(*bundle), sk_X509_value(path, 1));
}

// Many threads signing with one shared bundle: the bundle is immutable and
// OpenSSL's objects are safe for concurrent const use (run under TSan).
TEST(KeyCertBundleAccessTest, SharedBundleSignsConcurrently) {
  std::shared_ptr<const KeyCertBundle> bundle =
      MustCreate(testkit::Root(KeyType::kEcP256, kNow));
  ASSERT_NE(bundle, nullptr);
  SslUniquePtr<EVP_PKEY> leaf_key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(leaf_key, nullptr);
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        SslUniquePtr<X509> leaf(X509_new());
        X509_set_version(leaf.get(), X509_VERSION_3);
        if (!x509::SetRandomSerial(leaf.get()).ok()) return;
        X509_set_issuer_name(leaf.get(),
                             KeyCertBundleAccess::SubjectName(*bundle));
        X509_set_pubkey(leaf.get(), leaf_key.get());
        if (!x509::SetValidity(leaf.get(), kNow, kNow + absl::Hours(1))
                 .ok()) {
          return;
        }
        X509_add_ext(leaf.get(),
                     const_cast<X509_EXTENSION*>(
                         KeyCertBundleAccess::AuthorityKeyIdExtension(*bundle)),
                     -1);
        if (X509_sign(leaf.get(), KeyCertBundleAccess::SigningKey(*bundle),
                      KeyCertBundleAccess::SignatureDigest(*bundle)) <= 0) {
          return;
        }
        SslUniquePtr<STACK_OF(X509)> path =
            x509::VerifyToRoots(leaf.get(), nullptr,
                                    KeyCertBundleAccess::Roots(*bundle), kNow,
                                    "leaf")
                .value_or(nullptr);
        if (path != nullptr) ++ok[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(ok, ElementsAre(20, 20, 20, 20));
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
