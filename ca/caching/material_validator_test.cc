#include "ca/caching/material_validator.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/caching/internal/root_policy.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "testing/signing.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ServingMaterial> Validate(const CaMaterialPem& material,
                                         RefreshFailureCause* cause) {
  return ValidateMaterial(material, IssuancePolicy::Default(), absl::Now(),
                          cause);
}

TEST(MaterialValidatorTest, GoodMaterialSignsLeavesThatVerify) {
  const CaMaterialPem material = testkit::Intermediate(testkit::Root());
  RefreshFailureCause cause;
  auto serving = Validate(material, &cause);
  ASSERT_TRUE(serving.ok()) << serving.status();
  ASSERT_NE(serving->bundle, nullptr);
  ASSERT_NE(serving->ca, nullptr);
  auto chain = serving->ca->Sign(testkit::TestSignRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(testkit::VerifyIssued(*chain, material.root_bundle_pem).ok());
}

TEST(MaterialValidatorTest, MalformedPartsAreParseFailuresNamingThePart) {
  const CaMaterialPem good = testkit::Intermediate(testkit::Root());
  struct Case {
    const char* part;
    CaMaterialPem material;
  };
  CaMaterialPem bad_cert = good, bad_chain = good, bad_root = good, bad_key = good;
  bad_cert.cert_pem = "garbage";
  bad_chain.chain_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  bad_root.root_bundle_pem = "";
  bad_key.key_pem = SecretData("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  for (const Case& c : {Case{"signing cert", bad_cert}, Case{"chain", bad_chain},
                        Case{"root bundle", bad_root}, Case{"key", bad_key}}) {
    RefreshFailureCause cause = RefreshFailureCause::kFetch;
    auto serving = Validate(c.material, &cause);
    ASSERT_FALSE(serving.ok()) << c.part;
    EXPECT_EQ(cause, RefreshFailureCause::kParse) << c.part;
    EXPECT_THAT(serving.status().message(), HasSubstr(c.part));
    EXPECT_THAT(serving.status().message(), ::testing::Not(HasSubstr("AAAA")));
  }
}

TEST(MaterialValidatorTest, WellFormedButInvalidIsAValidationFailure) {
  for (const CaMaterialPem& material :
       {testkit::MismatchedKey(), testkit::ExpiredCa(), testkit::NotYetValidCa(),
        testkit::NonCaCert(), testkit::CaWithoutCertSign(),
        testkit::ChainNotReachingRoot()}) {
    RefreshFailureCause cause = RefreshFailureCause::kFetch;
    auto serving = Validate(material, &cause);
    EXPECT_FALSE(serving.ok());
    EXPECT_EQ(cause, RefreshFailureCause::kValidation) << serving.status();
  }
}

TEST(MaterialValidatorTest, CauseNamesAreMetricLabels) {
  EXPECT_EQ(RefreshFailureCauseName(RefreshFailureCause::kFetch), "fetch");
  EXPECT_EQ(RefreshFailureCauseName(RefreshFailureCause::kParse), "parse");
  EXPECT_EQ(RefreshFailureCauseName(RefreshFailureCause::kValidation), "validation");
  EXPECT_EQ(RefreshFailureCauseName(RefreshFailureCause::kRootPolicy), "root_policy");
}

std::shared_ptr<const KeyCertBundle> Bundle(const CaMaterialPem& material) {
  auto bundle = KeyCertBundle::Create(material);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

TEST(RootPolicyTest, IntermediateRotationUnderTheSameRootPasses) {
  const CaMaterialPem root = testkit::Root();
  auto a = Bundle(testkit::Intermediate(root, KeyType::kEcP256, absl::Now(), 1));
  auto b = Bundle(testkit::Intermediate(root, KeyType::kEcP256, absl::Now(), 2));
  EXPECT_TRUE(internal::CheckRootTransition(*a, *b, false).ok());
}

TEST(RootPolicyTest, DroppedRootFailsAndNamesItsFingerprint) {
  auto a = Bundle(testkit::Root(KeyType::kRsa, absl::Now(), 0));
  auto b = Bundle(testkit::Root(KeyType::kRsa, absl::Now(), 1));
  absl::Status status = internal::CheckRootTransition(*a, *b, false);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(a->root_fingerprints().front()));
  EXPECT_TRUE(internal::CheckRootTransition(*a, *b, true).ok());
  EXPECT_FALSE(internal::KeepsAllRoots(*a, *b));
}

TEST(RootPolicyTest, BundleGrowingToTrustANewRootPasses) {
  const CaMaterialPem old_root = testkit::Root(KeyType::kRsa, absl::Now(), 0);
  CaMaterialPem next = testkit::Root(KeyType::kRsa, absl::Now(), 1);
  next.root_bundle_pem = old_root.cert_pem + next.cert_pem;
  EXPECT_TRUE(internal::KeepsAllRoots(*Bundle(old_root), *Bundle(next)));
}

TEST(RootPolicyTest, RootReissuedWithTheSameKeyAndSubjectIsKept) {
  const absl::Time now = absl::Now();
  RootOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 4);
  options.now = now;
  auto first = GenerateSelfSignedRoot(options);
  options.now = now + absl::Hours(1);
  auto second = GenerateSelfSignedRoot(options);
  ASSERT_TRUE(first.ok() && second.ok());
  auto a = Bundle(*first);
  auto b = KeyCertBundle::Create(*second, now + absl::Hours(1));
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->root_fingerprints(), (*b)->root_fingerprints());
  EXPECT_TRUE(internal::KeepsAllRoots(*a, **b));

  // Same subject, other key: a different root.
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 5);
  auto other = GenerateSelfSignedRoot(options);
  ASSERT_TRUE(other.ok());
  auto c = KeyCertBundle::Create(*other, now + absl::Hours(1));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(internal::KeepsAllRoots(*a, **c));
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
