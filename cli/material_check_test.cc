#include "cli/material_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;

std::string Rendered(const ca::CaMaterialPem& material,
                     MaterialCheckOptions options = MaterialCheckOptions()) {
  Report report;
  CheckMaterial(material, options, &report);
  return report.Render();
}

TEST(MaterialCheckTest, GoodIntermediatePassesEveryLine) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  const ca::CaMaterialPem ca = testkit::Intermediate(root);
  Report report;
  ASSERT_TRUE(CheckMaterial(ca, MaterialCheckOptions(), &report).has_value())
      << report.Render();
  EXPECT_FALSE(report.failed());
  const std::string text = report.Render();
  EXPECT_THAT(text, HasSubstr("PASS  private key: matches"));
  EXPECT_THAT(text, HasSubstr("PASS  CA flags: all 2 certificates"));
  EXPECT_THAT(text, HasSubstr("PASS  expiry of root: O=cluster.local valid until"));
  EXPECT_THAT(text, HasSubstr("PASS  test CSR: a leaf for spiffe://"));
  EXPECT_THAT(text, HasSubstr("OK: "));
}

TEST(MaterialCheckTest, KeyMismatchFailsOnTheKeyLine) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  ca::CaMaterialPem ca = testkit::Intermediate(root);
  ca.key_pem = testkit::CachedKeyPem(ca::KeyType::kEcP256, 5);
  Report report;
  EXPECT_FALSE(CheckMaterial(ca, MaterialCheckOptions(), &report).has_value());
  EXPECT_THAT(report.FirstFailure(),
              HasSubstr("FAIL  private key: the private key is not the key of "
                        "the certificate CN=vaultca"));
}

TEST(MaterialCheckTest, ExpiredAndSoonExpiringCertificates) {
  const absl::Time now = absl::Now();
  EXPECT_THAT(Rendered(testkit::ExpiredCa(now)),
              HasSubstr("FAIL  expiry of signing certificate: O=cluster.local "
                        "expired 1 day"));
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  const ca::CaMaterialPem short_lived =
      testkit::Intermediate(root, ca::KeyType::kEcP256, now, 0, absl::Hours(24 * 10));
  const std::string text = Rendered(short_lived);
  EXPECT_THAT(text, HasSubstr("WARN  expiry of signing certificate: CN=vaultca"));
  EXPECT_THAT(text, HasSubstr("expires in 9 days"));
  EXPECT_THAT(text, HasSubstr("OK: "));
}

TEST(MaterialCheckTest, LeafCertificateIsNotACa) {
  const std::string text = Rendered(testkit::NonCaCert());
  EXPECT_THAT(text, HasSubstr("FAIL  CA flags: signing certificate"));
  EXPECT_THAT(text, HasSubstr("is not a CA"));
}

TEST(MaterialCheckTest, GarbageIsACertificateFailure) {
  ca::CaMaterialPem m = testkit::Root(ca::KeyType::kEcP256);
  m.cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  EXPECT_THAT(Rendered(m), HasSubstr("FAIL  certificates: the signing certificate"));
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
