#include "cli/root_guard.h"

#include "ca/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;

TEST(RootGuardTest, IntermediateRotationUnderTheSameRootPasses) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem root = ca::testing::Root(ca::KeyType::kEcP256, now);
  const ca::CaMaterialPem old_ca = ca::testing::Intermediate(root, ca::KeyType::kEcP256, now, 0);
  const ca::CaMaterialPem new_ca = ca::testing::Intermediate(root, ca::KeyType::kEcP256, now, 1);
  EXPECT_TRUE(CheckRootTransition(old_ca, new_ca, false, now).ok());
}

TEST(RootGuardTest, ANewRootIsRefusedUnlessMultiRoot) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem old_ca = ca::testing::Intermediate(
      ca::testing::Root(ca::KeyType::kEcP256, now, 0), ca::KeyType::kEcP256, now, 0);
  const ca::CaMaterialPem other = ca::testing::Intermediate(
      ca::testing::Root(ca::KeyType::kEcP256, now, 3), ca::KeyType::kEcP256, now, 1);
  absl::Status refused = CheckRootTransition(old_ca, other, false, now);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("root"));
  EXPECT_TRUE(CheckRootTransition(old_ca, other, true, now).ok());
}

TEST(RootGuardTest, InvalidNextMaterialIsRefusedAndExpiredPreviousGuardsNothing) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem good = ca::testing::Intermediate(
      ca::testing::Root(ca::KeyType::kEcP256, now), ca::KeyType::kEcP256, now);
  EXPECT_FALSE(CheckRootTransition(good, ca::testing::MismatchedKey(now), false, now).ok());
  EXPECT_TRUE(CheckRootTransition(ca::testing::ExpiredCa(now), good, false, now).ok());
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
