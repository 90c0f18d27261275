// The pieces `vaultca rotate` decides with: the phase a record is in and
// the bundle arithmetic, on PKI generated here.

#include "cli/rotate_state.h"

#include "absl/time/clock.h"
#include "cli/vault_flags.h"
#include "testing/test_pki.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace cli {
namespace {

CaRecord RecordOf(const ca::CaMaterialPem& m) {
  CaRecord r;
  r.path = "secret/data/pki/istiod";
  r.version = 1;
  r.fields[kCertField] = SecretData(m.cert_pem);
  r.fields[kKeyField] = m.key_pem;
  r.fields[kChainField] = SecretData(m.chain_pem);
  r.fields[kRootField] = SecretData(m.root_bundle_pem);
  return r;
}

TEST(RotateStateTest, PhaseFollowsTheRotationFields) {
  const ca::CaMaterialPem root = testkit::Root();
  CaRecord r = RecordOf(testkit::Intermediate(root));
  EXPECT_EQ(*ClassifyRootPhase(r), RootPhase::kSteady);
  r.fields[kNextCertField] = SecretData("cert");
  EXPECT_FALSE(ClassifyRootPhase(r).ok()) << "a staged cert without its key";
  r.fields[kNextKeyField] = SecretData("key");
  EXPECT_EQ(*ClassifyRootPhase(r), RootPhase::kBundlePublished);
  r.fields[kRetiringRootField] = SecretData(root.cert_pem);
  EXPECT_FALSE(ClassifyRootPhase(r).ok()) << "staged and retiring at once";
  r.fields.erase(kNextCertField);
  r.fields.erase(kNextKeyField);
  EXPECT_EQ(*ClassifyRootPhase(r), RootPhase::kSwitched);
}

TEST(RotateStateTest, LiveMaterialOfASelfSignedCertIsItsOwnRoot) {
  const ca::CaMaterialPem root = testkit::Root();
  CaRecord r;
  r.fields[kCertField] = SecretData(root.cert_pem);
  r.fields[kKeyField] = root.key_pem;
  EXPECT_EQ(r.Live().root_bundle_pem, root.cert_pem);
}

TEST(RotateStateTest, BundleArithmetic) {
  const ca::CaMaterialPem old_root = testkit::Root(ca::KeyType::kRsa, absl::Now(), 0);
  const ca::CaMaterialPem new_root = testkit::Root(ca::KeyType::kRsa, absl::Now(), 1);
  const ca::CaMaterialPem old_inter = testkit::Intermediate(old_root);
  const ca::CaMaterialPem new_inter = testkit::Intermediate(new_root);
  const std::string both = old_root.cert_pem + new_root.cert_pem;

  EXPECT_TRUE(HoldsAll(both, old_root.cert_pem));
  EXPECT_TRUE(HoldsAll(both, new_root.cert_pem + old_root.cert_pem));
  EXPECT_FALSE(HoldsAll(old_root.cert_pem, both));
  EXPECT_FALSE(HoldsAll("", old_root.cert_pem));
  EXPECT_FALSE(HoldsAll(both, "not a certificate"));

  const std::vector<std::string> roots =
      RootsOf(old_inter.cert_pem, old_inter.chain_pem, both, absl::Now());
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_TRUE(HoldsAll(roots[0], old_root.cert_pem));
  EXPECT_TRUE(RootsOf(new_inter.cert_pem, new_inter.chain_pem, old_root.cert_pem, absl::Now())
                  .empty());

  const std::string dropped = WithoutCertificates(both, old_root.cert_pem);
  EXPECT_TRUE(HoldsAll(dropped, new_root.cert_pem));
  EXPECT_FALSE(HoldsAll(dropped, old_root.cert_pem));
  EXPECT_EQ(SplitCertificates(dropped)->size(), 1u);
}

TEST(RotateStateTest, TimesRoundTripInUtc) {
  const absl::Time t = absl::FromUnixSeconds(1796600000);
  absl::StatusOr<absl::Time> back = ParseUtc(FormatUtc(t), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
  EXPECT_FALSE(ParseUtc("yesterday", "x").ok());
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
