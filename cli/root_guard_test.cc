#include "cli/root_guard.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;

TEST(RootGuardTest, IntermediateRotationUnderTheSameRootPasses) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256, now);
  const ca::CaMaterialPem old_ca = testkit::Intermediate(root, ca::KeyType::kEcP256, now, 0);
  const ca::CaMaterialPem new_ca = testkit::Intermediate(root, ca::KeyType::kEcP256, now, 1);
  EXPECT_TRUE(CheckRootTransition(old_ca, new_ca, false, now).ok());
}

TEST(RootGuardTest, ANewRootIsRefusedUnlessMultiRoot) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem old_ca = testkit::Intermediate(
      testkit::Root(ca::KeyType::kEcP256, now, 0), ca::KeyType::kEcP256, now, 0);
  const ca::CaMaterialPem other = testkit::Intermediate(
      testkit::Root(ca::KeyType::kEcP256, now, 3), ca::KeyType::kEcP256, now, 1);
  absl::Status refused = CheckRootTransition(old_ca, other, false, now);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("root"));
  EXPECT_TRUE(CheckRootTransition(old_ca, other, true, now).ok());
}

TEST(RootGuardTest, InvalidNextMaterialIsRefusedAndExpiredPreviousGuardsNothing) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem good = testkit::Intermediate(
      testkit::Root(ca::KeyType::kEcP256, now), ca::KeyType::kEcP256, now);
  EXPECT_FALSE(CheckRootTransition(good, testkit::MismatchedKey(now), false, now).ok());
  EXPECT_TRUE(CheckRootTransition(testkit::ExpiredCa(now), good, false, now).ok());
}

TEST(RootGuardTest, IstiodReloadsARootBundleOnlyWithMultiRootAndOneHoldingTheOther) {
  const absl::Time now = absl::Now();
  const std::string a = testkit::Root(ca::KeyType::kEcP256, now, 0).cert_pem;
  const std::string b = testkit::Root(ca::KeyType::kEcP256, now, 3).cert_pem;
  const std::string c = testkit::Root(ca::KeyType::kRsa, now, 4).cert_pem;
  const std::string both = a + b;

  // Unchanged bytes: an intermediate rotation, nothing to ask of istiod.
  EXPECT_TRUE(CheckIstiodReload(a, a, false).ok());
  EXPECT_TRUE(CheckIstiodReload(both, both, false).ok());

  // Any change without ISTIO_MULTIROOT_MESH, even adding a root, or only
  // re-encoding the same ones: istiod would ignore the whole update.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {a, both}, {both, b}, {both, b + a}, {a, "\n" + a}}) {
    absl::Status refused = CheckIstiodReload(from, to, false);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_THAT(std::string(refused.message()), HasSubstr("ISTIO_MULTIROOT_MESH=true"));
    EXPECT_THAT(std::string(refused.message()), HasSubstr("--multi-root"));
  }
  EXPECT_THAT(std::string(CheckIstiodReload(a, both, false).message()),
              HasSubstr("adds O=cluster.local"));
  EXPECT_THAT(std::string(CheckIstiodReload(both, b + a, false).message()),
              HasSubstr("its bytes but not its roots"));

  // With it: the steps of a root rotation (add, reorder, drop) pass.
  EXPECT_TRUE(CheckIstiodReload(a, both, true).ok());
  EXPECT_TRUE(CheckIstiodReload(both, b + a, true).ok());
  EXPECT_TRUE(CheckIstiodReload(both, b, true).ok());

  // A bundle unrelated to the one in service: istiod refuses it whatever
  // the mode, so sync does too.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {a, b}, {a, b + c}, {both, c}, {both, a + c}}) {
    absl::Status refused = CheckIstiodReload(from, to, true);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_THAT(std::string(refused.message()), HasSubstr("vaultca rotate root"));
  }
  EXPECT_FALSE(CheckIstiodReload(a, "not a certificate", true).ok());
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
