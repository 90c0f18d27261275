// Signing, hot rotation under load, rejection of bad material and the root
// policy of CachingCertificateAuthority.

#include "ca/caching/caching_ca.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/caching/testing/caching_test_util.h"
#include "ca/caching/testing/fake_source.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/files/files_source.h"
#include "ca/sources/self_signed/self_signed_source.h"
#include "common/sync.h"
#include "testing/fake_clock.h"
#include "testing/signing.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "testing/wait.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;
using testkit::FakeClock;
using testing::FakeSource;
using testing::FakeSourceState;
using testkit::IssuerOf;
using testing::LogCapture;
using testing::ManualOptions;
using testing::MustBundle;
using testing::MustNew;
using testing::Pki;
using testkit::TestSignRequest;
using testkit::VerifyIssued;
using testing::WaitUntil;

TEST(CachingCaTest, LoadsSignsAndReportsStats) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  const CaMaterialPem inter = pki.Intermediate(1);
  state->Set(inter);
  auto ca = MustNew(state, ManualOptions());
  ASSERT_NE(ca, nullptr);

  auto chain = ca->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(VerifyIssued(*chain, pki.root_pem()).ok())
      << VerifyIssued(*chain, pki.root_pem());
  EXPECT_THAT(*IssuerOf(*chain), HasSubstr("CN=inter-1"));
  auto roots = ca->RootBundlePem();
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(*roots, MustBundle(inter)->root_bundle_pem());

  EXPECT_TRUE(ca->Readiness().ok()) << ca->Readiness();
  const CachingCaStats stats = ca->Stats();
  EXPECT_TRUE(stats.has_material);
  EXPECT_TRUE(stats.ready);
  EXPECT_EQ(stats.serial_hex, MustBundle(inter)->serial_hex());
  EXPECT_EQ(stats.not_after, MustBundle(inter)->not_after());
  EXPECT_EQ(stats.refreshes, 1);
  EXPECT_EQ(stats.rotations, 0);
  EXPECT_EQ(stats.failures.total(), 0);
  EXPECT_NE(stats.last_successful_refresh, absl::InfinitePast());
  EXPECT_EQ(ca->source_description(), "fake:test");
  // Signs with the loaded material; the source is read on its own thread.
  EXPECT_FALSE(ca->SignMayBlock());
}

TEST(CachingCaTest, UnchangedMaterialIsNotRotated) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(1));
  auto ca = MustNew(state, ManualOptions());
  const std::string serial = ca->Stats().serial_hex;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ca->Refresh().ok());
  const CachingCaStats stats = ca->Stats();
  EXPECT_EQ(stats.serial_hex, serial);
  EXPECT_EQ(stats.rotations, 0);
  EXPECT_EQ(stats.refreshes, 4);
  EXPECT_EQ(state->fetches(), 4);
}

TEST(CachingCaTest, RotationUnderConcurrentSigningNeverFails) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  state->Set(pki.Intermediate(0));
  auto ca = MustNew(state, ManualOptions());
  ASSERT_NE(ca, nullptr);

  constexpr int kThreads = 8;
  constexpr int kRotations = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> signed_count{0};
  std::atomic<int> failures{0};
  Mutex mu;
  std::string first_failure;
  // Issuer sequence per thread: rotation order must never go backwards.
  std::vector<std::vector<std::string>> issuers(kThreads);
  std::vector<std::thread> signers;
  for (int t = 0; t < kThreads; ++t) {
    signers.emplace_back([&, t] {
      while (!stop.load()) {
        auto chain = ca->Sign(TestSignRequest("ns", absl::StrCat("sa", t)));
        absl::Status verdict =
            chain.ok() ? VerifyIssued(*chain, pki.root_pem()) : chain.status();
        if (!verdict.ok()) {
          if (failures.fetch_add(1) == 0) {
            MutexLock lock(&mu);
            first_failure = verdict.ToString();
          }
          continue;
        }
        auto issuer = IssuerOf(*chain);
        if (issuers[t].empty() || issuers[t].back() != *issuer) {
          issuers[t].push_back(*issuer);
        }
        signed_count.fetch_add(1);
      }
    });
  }
  for (int r = 1; r <= kRotations; ++r) {
    const int before = signed_count.load();
    // Let every signer get some certificates out under this material.
    ASSERT_TRUE(WaitUntil([&] { return signed_count.load() >= before + 4 * kThreads; }));
    state->Set(pki.Intermediate(r));
    ASSERT_TRUE(ca->Refresh().ok());
    // The switch-over is immediate for every request that starts after it.
    auto chain = ca->Sign(TestSignRequest());
    ASSERT_TRUE(chain.ok());
    EXPECT_THAT(*IssuerOf(*chain), HasSubstr(absl::StrCat("CN=inter-", r)));
  }
  const int before = signed_count.load();
  ASSERT_TRUE(WaitUntil([&] { return signed_count.load() >= before + 4 * kThreads; }));
  stop = true;
  for (std::thread& thread : signers) thread.join();

  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_EQ(ca->Stats().rotations, kRotations);
  std::set<std::string> all_issuers;
  for (const auto& seq : issuers) {
    // Each thread saw issuers in rotation order (inter-0, inter-1, ...).
    for (size_t i = 1; i < seq.size(); ++i) EXPECT_LT(seq[i - 1], seq[i]);
    all_issuers.insert(seq.begin(), seq.end());
  }
  EXPECT_EQ(all_issuers.size(), static_cast<size_t>(kRotations + 1));
}

TEST(CachingCaTest, InvalidMaterialIsRejectedLoggedCountedAndOldKept) {
  Pki pki;
  auto state = std::make_shared<FakeSourceState>();
  const CaMaterialPem good = pki.Intermediate(1);
  state->Set(good);
  auto ca = MustNew(state, ManualOptions());
  const std::string serial = ca->Stats().serial_hex;
  LogCapture logs;

  CaMaterialPem garbage = good;
  garbage.cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
  state->Set(garbage);
  absl::Status status = ca->Refresh();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("parse"));

  CaMaterialPem mismatched = pki.Intermediate(2);
  mismatched.key_pem = good.key_pem;
  state->Set(mismatched);
  EXPECT_FALSE(ca->Refresh().ok());

  state->Set(testkit::ExpiredCa());
  EXPECT_FALSE(ca->Refresh().ok());

  state->Set(testkit::NonCaCert());
  EXPECT_FALSE(ca->Refresh().ok());

  state->Set(absl::UnavailableError("vault sealed"));
  EXPECT_FALSE(ca->Refresh().ok());

  const CachingCaStats stats = ca->Stats();
  EXPECT_EQ(stats.serial_hex, serial);
  EXPECT_EQ(stats.rotations, 0);
  EXPECT_EQ(stats.failures.parse, 1);
  EXPECT_EQ(stats.failures.validation, 3);
  EXPECT_EQ(stats.failures.fetch, 1);
  EXPECT_EQ(stats.failures.root_policy, 0);
  EXPECT_THAT(stats.last_error, HasSubstr("vault sealed"));
  const std::string logged = logs.Joined();
  EXPECT_THAT(logged, HasSubstr("failed (parse)"));
  EXPECT_THAT(logged, HasSubstr("failed (validation)"));
  EXPECT_THAT(logged, HasSubstr("still serving serial " + serial));
  EXPECT_THAT(logged, ::testing::Not(HasSubstr("PRIVATE KEY")));

  // Still signing with the old material, and readiness is unaffected while
  // within max_staleness.
  auto chain = ca->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(*IssuerOf(*chain), HasSubstr("CN=inter-1"));
  EXPECT_TRUE(ca->IsReady());

  // Recovery clears the error.
  state->Set(good);
  EXPECT_TRUE(ca->Refresh().ok());
  EXPECT_EQ(ca->Stats().last_error, "");
}

TEST(CachingCaTest, PartialFileUpdateNeverServesAMismatchedPair) {
  const std::string dir = testkit::MakeTempDir("partial_update");
  Pki pki;
  const CaMaterialPem first = pki.Intermediate(1);
  const CaMaterialPem second = pki.Intermediate(2);
  auto write_all = [&](const CaMaterialPem& m) {
    ASSERT_TRUE(testkit::WriteTestFile(dir + "/ca-key.pem",
                                       std::string(m.key_pem.view()), 0600).ok());
    ASSERT_TRUE(testkit::WriteTestFile(dir + "/ca-cert.pem", m.cert_pem).ok());
    ASSERT_TRUE(testkit::WriteTestFile(dir + "/cert-chain.pem", m.chain_pem).ok());
    ASSERT_TRUE(testkit::WriteTestFile(dir + "/root-cert.pem", m.root_bundle_pem).ok());
  };
  write_all(first);
  FilesSourceOptions files;
  files.dir = dir;
  auto source = FilesSource::New(files);
  ASSERT_TRUE(source.ok());
  auto ca = CachingCertificateAuthority::New(*std::move(source), ManualOptions());
  ASSERT_TRUE(ca.ok()) << ca.status();

  // The cert and chain changed, the key not yet.
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/ca-cert.pem", second.cert_pem).ok());
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/cert-chain.pem", second.chain_pem).ok());
  absl::Status status = (*ca)->Refresh();
  EXPECT_FALSE(status.ok());
  EXPECT_EQ((*ca)->Stats().failures.validation, 1);
  auto chain = (*ca)->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyIssued(*chain, pki.root_pem()).ok());
  EXPECT_THAT(*IssuerOf(*chain), HasSubstr("CN=inter-1"));

  // The key arrives: the pair is whole again and goes live.
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/ca-key.pem",
                                     std::string(second.key_pem.view()), 0600).ok());
  ASSERT_TRUE((*ca)->Refresh().ok());
  chain = (*ca)->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyIssued(*chain, pki.root_pem()).ok());
  EXPECT_THAT(*IssuerOf(*chain), HasSubstr("CN=inter-2"));
}

TEST(CachingCaTest, WatchedFilesRotateHotWhileSigningAndWritingPiecemeal) {
  const std::string dir = testkit::MakeTempDir("hot_files");
  Pki pki;
  constexpr int kRotations = 4;
  std::vector<CaMaterialPem> materials;
  for (int i = 0; i <= kRotations; ++i) materials.push_back(pki.Intermediate(i));
  auto write = [&](const std::string& name, const std::string& contents) {
    ASSERT_TRUE(testkit::WriteTestFile(dir + "/" + name, contents).ok());
  };
  write("ca-key.pem", std::string(materials[0].key_pem.view()));
  write("ca-cert.pem", materials[0].cert_pem);
  write("cert-chain.pem", materials[0].chain_pem);
  write("root-cert.pem", materials[0].root_bundle_pem);

  FilesSourceOptions files;
  files.dir = dir;
  files.debounce = absl::Milliseconds(1);
  auto source = FilesSource::New(files);
  ASSERT_TRUE(source.ok());
  CachingCaOptions options;
  options.refresh_interval = absl::Milliseconds(30);
  options.min_retry_backoff = absl::Milliseconds(5);
  options.max_retry_backoff = absl::Milliseconds(20);
  auto ca = CachingCertificateAuthority::New(*std::move(source), options);
  ASSERT_TRUE(ca.ok()) << ca.status();

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, issued{0};
  std::vector<std::thread> signers;
  for (int t = 0; t < 8; ++t) {
    signers.emplace_back([&] {
      while (!stop.load()) {
        auto chain = (*ca)->Sign(TestSignRequest());
        if (!chain.ok() || !VerifyIssued(*chain, pki.root_pem()).ok()) {
          failures.fetch_add(1);
        } else {
          issued.fetch_add(1);
        }
      }
    });
  }
  for (int r = 1; r <= kRotations; ++r) {
    // Piecemeal, in the worst order: cert first, key last, with refreshes
    // happening in between.
    auto refreshed = [&, seen = (*ca)->Stats().refreshes]() mutable {
      const bool ok =
          testkit::WaitFor([&] { return (*ca)->Stats().refreshes > seen; });
      seen = (*ca)->Stats().refreshes;
      return ok;
    };
    write("ca-cert.pem", materials[r].cert_pem);
    ASSERT_TRUE(refreshed());
    write("cert-chain.pem", materials[r].chain_pem);
    ASSERT_TRUE(refreshed());
    write("ca-key.pem", std::string(materials[r].key_pem.view()));
    const std::string want = MustBundle(materials[r])->serial_hex();
    ASSERT_TRUE(WaitUntil([&] { return (*ca)->Stats().serial_hex == want; }))
        << "rotation " << r << " not picked up";
  }
  stop = true;
  for (std::thread& thread : signers) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(issued.load(), 0);
  EXPECT_EQ((*ca)->Stats().rotations, kRotations);
}

TEST(CachingCaTest, RootChangeIsRejectedUnlessTheBundleKeepsTheOldRoot) {
  Pki old_pki(absl::Now(), 0);
  Pki new_pki(absl::Now(), 1);
  auto state = std::make_shared<FakeSourceState>();
  state->Set(old_pki.Intermediate(1));
  auto ca = MustNew(state, ManualOptions());
  const std::string serial = ca->Stats().serial_hex;

  // A different root outright: the mesh would split.
  state->Set(new_pki.Intermediate(1));
  absl::Status status = ca->Refresh();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("root_policy"));
  EXPECT_THAT(status.message(), HasSubstr("multi-root"));
  EXPECT_EQ(ca->Stats().failures.root_policy, 1);
  EXPECT_EQ(ca->Stats().serial_hex, serial);

  // Step 1 of a root rotation: the new root signs, the bundle trusts both.
  CaMaterialPem both = new_pki.Intermediate(2);
  both.root_bundle_pem = old_pki.root_pem() + new_pki.root_pem();
  state->Set(both);
  ASSERT_TRUE(ca->Refresh().ok());
  EXPECT_EQ(ca->Stats().rotations, 1);
  auto chain = ca->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyIssued(*chain, both.root_bundle_pem).ok());
  EXPECT_EQ(*ca->RootBundlePem(), MustBundle(both)->root_bundle_pem());

  // Dropping the old root is again a root change.
  state->Set(new_pki.Intermediate(3));
  EXPECT_EQ(ca->Refresh().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ca->Stats().failures.root_policy, 2);
}

TEST(CachingCaTest, MultiRootAcceptsARootChange) {
  Pki old_pki(absl::Now(), 0);
  Pki new_pki(absl::Now(), 1);
  auto state = std::make_shared<FakeSourceState>();
  state->Set(old_pki.Intermediate(1));
  CachingCaOptions options = ManualOptions();
  options.multi_root = true;
  auto ca = MustNew(state, options);
  const CaMaterialPem next = new_pki.Intermediate(1);
  state->Set(next);
  ASSERT_TRUE(ca->Refresh().ok());
  EXPECT_EQ(ca->Stats().rotations, 1);
  EXPECT_EQ(ca->Stats().failures.root_policy, 0);
  auto chain = ca->Sign(TestSignRequest());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyIssued(*chain, new_pki.root_pem()).ok());
}

TEST(CachingCaTest, SelfSignedRenewalWithTheSameKeyIsNotARootChange) {
  FakeClock clock(absl::Now());
  SelfSignedSourceOptions self_signed;
  self_signed.state_dir = testkit::MakeTempDir("ss_state");
  self_signed.key_type = KeyType::kEcP256;
  self_signed.clock = clock.AsFunction();
  auto source = SelfSignedSource::New(self_signed);
  ASSERT_TRUE(source.ok());
  auto ca = CachingCertificateAuthority::New(*std::move(source),
                                             ManualOptions(&clock));
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto old_chain = (*ca)->Sign(TestSignRequest());
  ASSERT_TRUE(old_chain.ok());
  const std::string old_roots = *(*ca)->RootBundlePem();

  clock.Advance(absl::Hours(24 * 365 * 9));
  ASSERT_TRUE((*ca)->Refresh().ok());
  EXPECT_EQ((*ca)->Stats().rotations, 1);
  const std::string new_roots = *(*ca)->RootBundlePem();
  EXPECT_NE(new_roots, old_roots);
  // Same key and subject: new leaves verify under the old root and vice
  // versa, which is why the policy lets it through.
  auto new_chain = (*ca)->Sign(TestSignRequest());
  ASSERT_TRUE(new_chain.ok());
  EXPECT_TRUE(VerifyIssued(*new_chain, old_roots, clock.Now()).ok());
}

TEST(CachingCaTest, RejectsBadOptions) {
  auto state = std::make_shared<FakeSourceState>();
  CachingCaOptions options;
  options.refresh_interval = absl::ZeroDuration();
  EXPECT_EQ(CachingCertificateAuthority::New(std::make_unique<FakeSource>(state),
                                             options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CachingCertificateAuthority::New(nullptr, CachingCaOptions())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state->fetches(), 0);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
