#include "ca/sources/self_signed/self_signed_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/internal/file_io.h"
#include "ca/sources/testing/conformance_checks.h"
#include "ca/sources/testing/material_source_conformance.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;
using testing::BadMaterial;
using testkit::FakeClock;
using testkit::MakeTempDir;
using testkit::WriteTestFile;

constexpr absl::Duration kTenYears = absl::Hours(24 * 365 * 10);

SelfSignedSourceOptions Options(const std::string& dir, const FakeClock& clock,
                                KeyType key_type = KeyType::kEcP256) {
  SelfSignedSourceOptions options;
  options.state_dir = dir;
  options.key_type = key_type;
  options.clock = clock.AsFunction();
  return options;
}

std::unique_ptr<SelfSignedSource> NewSource(const SelfSignedSourceOptions& options) {
  auto source = SelfSignedSource::New(options);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

// Drives a state directory for the conformance suite. Rotation is the
// renewal the source does by itself once the clock passes 80% of life.
class SelfSignedHarness {
 public:
  static constexpr bool kReportsChanges = false;

  SelfSignedHarness()
      : dir_(MakeTempDir("state")), clock_(absl::Now()), issued_at_(clock_.Now()) {
    // The first fetch generates and persists the root.
    auto material = NewSource()->Fetch();
    EXPECT_TRUE(material.ok()) << material.status();
  }

  std::unique_ptr<MaterialSource> NewSource() {
    return ::vaultca::ca::NewSource(Options(dir_, clock_));
  }
  absl::Time Now() { return clock_.Now(); }

  absl::Status Rotate() {
    clock_.Advance(kTenYears * 0.85);
    issued_at_ = clock_.Now();
    return absl::OkStatus();
  }

  absl::Status InstallBad(BadMaterial kind) {
    if (kind == BadMaterial::kGarbageCert) {
      return WriteTestFile(dir_ + "/ca-cert.pem", "not a certificate\n");
    }
    return WriteTestFile(
        dir_ + "/ca-key.pem",
        std::string(testkit::CachedKeyPem(KeyType::kEcP256, 99).view()), 0600);
  }

  absl::Time ExpectedNotAfter() { return issued_at_ + kTenYears; }

 private:
  const std::string dir_;
  FakeClock clock_;
  absl::Time issued_at_;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(SelfSigned, MaterialSourceConformanceTest,
                               ::testing::Types<SelfSignedHarness>);
}  // namespace testing

namespace {

int ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

std::shared_ptr<const KeyCertBundle> MustBundle(const CaMaterialPem& material,
                                                absl::Time now) {
  auto bundle = KeyCertBundle::Create(material, now);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

TEST(SelfSignedSourceTest, FirstStartGeneratesIstiodDefaultRoot) {
  const std::string dir = MakeTempDir("first") + "/state";
  FakeClock clock(absl::Now());
  SelfSignedSourceOptions options = Options(dir, clock, KeyType::kRsa);
  options.trust_domain = "example.org";
  std::unique_ptr<SelfSignedSource> source = NewSource(options);
  auto material = source->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();

  auto bundle = MustBundle(*material, clock.Now());
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->key_type(), KeyType::kRsa);
  EXPECT_TRUE(bundle->self_signed());
  EXPECT_THAT(bundle->subject(), HasSubstr("O=example.org"));
  EXPECT_LE(absl::AbsDuration(bundle->not_after() - (clock.Now() + kTenYears)),
            absl::Seconds(1));
  EXPECT_EQ(material->root_bundle_pem, material->cert_pem);
  EXPECT_TRUE(material->chain_pem.empty());
  EXPECT_EQ(ModeOf(dir), 0700);
  EXPECT_EQ(ModeOf(dir + "/ca-key.pem"), 0600);
  EXPECT_EQ(ModeOf(dir + "/ca-cert.pem"), 0644);
  EXPECT_EQ(source->Description(), "self-signed:" + dir);
}

TEST(SelfSignedSourceTest, RestartReusesKeyAndCert) {
  const std::string dir = MakeTempDir("restart");
  FakeClock clock(absl::Now());
  auto first = NewSource(Options(dir, clock))->Fetch();
  ASSERT_TRUE(first.ok()) << first.status();
  clock.Advance(absl::Hours(24 * 365));
  auto second = NewSource(Options(dir, clock))->Fetch();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->cert_pem, second->cert_pem);
  EXPECT_TRUE(SecretEquals(first->key_pem, second->key_pem));
}

TEST(SelfSignedSourceTest, RenewsWithTheSameKeyOnlyBelowTwentyPercent) {
  const std::string dir = MakeTempDir("renew");
  FakeClock clock(absl::Now());
  std::unique_ptr<SelfSignedSource> source = NewSource(Options(dir, clock));
  auto original = source->Fetch();
  ASSERT_TRUE(original.ok()) << original.status();
  auto key_on_disk = internal::ReadSecretFile(dir + "/ca-key.pem");
  ASSERT_TRUE(key_on_disk.ok());

  // 79% of the life used: 21% left, kept.
  clock.Advance(kTenYears * 0.79);
  auto kept = source->Fetch();
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->cert_pem, original->cert_pem);

  // 81% used: renewed with the same key and subject, and persisted.
  clock.Advance(kTenYears * 0.02);
  auto renewed = source->Fetch();
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->cert_pem, original->cert_pem);
  EXPECT_TRUE(SecretEquals(renewed->key_pem, original->key_pem));
  auto key_after = internal::ReadSecretFile(dir + "/ca-key.pem");
  ASSERT_TRUE(key_after.ok());
  EXPECT_TRUE(SecretEquals(*key_after, *key_on_disk));
  auto old_bundle = MustBundle(*original, clock.Now() - kTenYears * 0.81);
  auto new_bundle = MustBundle(*renewed, clock.Now());
  ASSERT_NE(old_bundle, nullptr);
  ASSERT_NE(new_bundle, nullptr);
  EXPECT_EQ(new_bundle->subject(), old_bundle->subject());
  EXPECT_NE(new_bundle->serial_hex(), old_bundle->serial_hex());
  EXPECT_LE(absl::AbsDuration(new_bundle->not_after() - (clock.Now() + kTenYears)),
            absl::Seconds(1));
  auto on_disk = internal::ReadFile(dir + "/ca-cert.pem");
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, renewed->cert_pem);
}

TEST(SelfSignedSourceTest, ExpiredRootIsRenewedWithTheSameKey) {
  const std::string dir = MakeTempDir("expired");
  FakeClock clock(absl::Now());
  auto original = NewSource(Options(dir, clock))->Fetch();
  ASSERT_TRUE(original.ok());
  clock.Advance(kTenYears + absl::Hours(24));
  auto renewed = NewSource(Options(dir, clock))->Fetch();
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_TRUE(SecretEquals(renewed->key_pem, original->key_pem));
  EXPECT_NE(MustBundle(*renewed, clock.Now()), nullptr);
}

TEST(SelfSignedSourceTest, CertWithoutKeyIsAnErrorNotANewRoot) {
  const std::string dir = MakeTempDir("lostkey");
  FakeClock clock(absl::Now());
  auto original = NewSource(Options(dir, clock))->Fetch();
  ASSERT_TRUE(original.ok());
  ASSERT_EQ(::unlink((dir + "/ca-key.pem").c_str()), 0);
  auto material = NewSource(Options(dir, clock))->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(material.status().message(), HasSubstr("key is lost"));
  // Nothing was overwritten.
  auto on_disk = internal::ReadFile(dir + "/ca-cert.pem");
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, original->cert_pem);
}

TEST(SelfSignedSourceTest, KeyWithoutCertIssuesARootForThatKey) {
  const std::string dir = MakeTempDir("keyonly");
  FakeClock clock(absl::Now());
  const SecretData& key = testkit::CachedKeyPem(KeyType::kEcP256, 3);
  ASSERT_TRUE(WriteTestFile(dir + "/ca-key.pem", std::string(key.view()), 0600).ok());
  auto material = NewSource(Options(dir, clock))->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_TRUE(SecretEquals(material->key_pem, key));
  EXPECT_NE(MustBundle(*material, clock.Now()), nullptr);
}

TEST(SelfSignedSourceTest, CorruptCertIsReportedAgainstTheStateDirectory) {
  const std::string dir = MakeTempDir("corrupt");
  FakeClock clock(absl::Now());
  ASSERT_TRUE(NewSource(Options(dir, clock))->Fetch().ok());
  ASSERT_TRUE(WriteTestFile(dir + "/ca-cert.pem", "garbage").ok());
  auto material = NewSource(Options(dir, clock))->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_THAT(material.status().message(), HasSubstr(dir));
  EXPECT_THAT(material.status().message(), HasSubstr("delete it to re-issue"));
}

TEST(SelfSignedSourceTest, TwoSourcesOnOneDirectoryAgreeOnOneKey) {
  const std::string dir = MakeTempDir("shared");
  FakeClock clock(absl::Now());
  std::unique_ptr<SelfSignedSource> a = NewSource(Options(dir, clock));
  std::unique_ptr<SelfSignedSource> b = NewSource(Options(dir, clock));
  absl::StatusOr<CaMaterialPem> from_a, from_b;
  std::thread ta([&] { from_a = a->Fetch(); });
  std::thread tb([&] { from_b = b->Fetch(); });
  ta.join();
  tb.join();
  ASSERT_TRUE(from_a.ok()) << from_a.status();
  ASSERT_TRUE(from_b.ok()) << from_b.status();
  EXPECT_TRUE(SecretEquals(from_a->key_pem, from_b->key_pem));
  EXPECT_EQ(from_a->cert_pem, from_b->cert_pem);
}

TEST(SelfSignedSourceTest, RejectsBadOptions) {
  FakeClock clock(absl::Now());
  SelfSignedSourceOptions options = Options("", clock);
  EXPECT_EQ(SelfSignedSource::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options(MakeTempDir("opts"), clock);
  options.renew_fraction = 1.0;
  EXPECT_EQ(SelfSignedSource::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.renew_fraction = 0.2;
  options.trust_domain = "";
  EXPECT_EQ(SelfSignedSource::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.trust_domain = "cluster.local";
  options.ttl = absl::ZeroDuration();
  EXPECT_EQ(SelfSignedSource::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A state_dir under a regular file cannot be created.
  const std::string file = MakeTempDir("opts2") + "/file";
  ASSERT_TRUE(WriteTestFile(file, "x").ok());
  options = Options(file, clock);
  EXPECT_EQ(SelfSignedSource::New(options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
