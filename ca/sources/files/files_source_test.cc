#include "ca/sources/files/files_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/testing/conformance_checks.h"
#include "ca/sources/testing/material_source_conformance.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "testing/wait.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::BadMaterial;
using testkit::MakeTempDir;
using testkit::PublishLikeKubelet;
using testkit::WriteTestFile;

enum class Layout { kIstio, kTls, kKubelet };

// Drives a cacerts directory for the conformance suite: an intermediate
// under a fixed root, rotated to a new intermediate (new key) each time.
template <Layout kLayout>
class FilesHarness {
 public:
  static constexpr bool kReportsChanges = true;

  FilesHarness()
      : dir_(MakeTempDir("cacerts")),
        now_(absl::Now()),
        root_(testkit::Root(KeyType::kRsa, now_)) {
    EXPECT_TRUE(Install(NextIntermediate()).ok());
  }

  std::unique_ptr<MaterialSource> NewSource() {
    FilesSourceOptions options;
    options.dir = dir_;
    options.debounce = absl::Milliseconds(20);
    auto source = FilesSource::New(options);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  absl::Time Now() { return now_; }

  absl::Status Rotate() { return Install(NextIntermediate()); }

  absl::Status InstallBad(BadMaterial kind) {
    CaMaterialPem bad = installed_;
    if (kind == BadMaterial::kGarbageCert) {
      bad.cert_pem = "this is not a certificate\n";
      if (kLayout == Layout::kTls || kLayout == Layout::kKubelet) {
        bad.chain_pem = bad.cert_pem;
      }
    } else {
      bad.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 99);
    }
    return Write(bad);
  }

  absl::Time ExpectedNotAfter() { return expected_not_after_; }

 private:
  CaMaterialPem NextIntermediate() {
    return testkit::Intermediate(root_, KeyType::kEcP256, now_, ++slot_);
  }

  absl::Status Install(const CaMaterialPem& material) {
    auto bundle = KeyCertBundle::Create(material, now_);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    if (bundle.ok()) expected_not_after_ = (*bundle)->not_after();
    installed_ = material;
    return Write(material);
  }

  absl::Status Write(const CaMaterialPem& m) {
    const std::string key(m.key_pem.view());
    switch (kLayout) {
      case Layout::kIstio: {
        // The key first: a reader between the writes sees a mismatched pair,
        // which validation must catch; this is what real copies do.
        for (const auto& [name, contents] :
             std::map<std::string, std::string>{{"ca-key.pem", key},
                                                {"ca-cert.pem", m.cert_pem},
                                                {"cert-chain.pem", m.chain_pem},
                                                {"root-cert.pem", m.root_bundle_pem}}) {
          absl::Status s = WriteTestFile(absl::StrCat(dir_, "/", name), contents,
                                         name == "ca-key.pem" ? 0600 : 0644);
          if (!s.ok()) return s;
        }
        return absl::OkStatus();
      }
      case Layout::kTls: {
        // cert-manager style: tls.crt holds the signing cert and its chain.
        absl::Status s = WriteTestFile(dir_ + "/tls.key", key, 0600);
        if (s.ok()) s = WriteTestFile(dir_ + "/tls.crt", m.chain_pem);
        if (s.ok()) s = WriteTestFile(dir_ + "/ca.crt", m.root_bundle_pem);
        return s;
      }
      case Layout::kKubelet:
        return PublishLikeKubelet(dir_, {{"tls.key", key},
                                         {"tls.crt", m.chain_pem},
                                         {"ca.crt", m.root_bundle_pem}});
    }
    return absl::InternalError("unknown layout");
  }

  const std::string dir_;
  const absl::Time now_;
  const CaMaterialPem root_;
  int slot_ = 0;
  CaMaterialPem installed_;
  absl::Time expected_not_after_;
};

}  // namespace

namespace testing {
using FilesHarnesses = ::testing::Types<FilesHarness<Layout::kIstio>,
                                        FilesHarness<Layout::kTls>,
                                        FilesHarness<Layout::kKubelet>>;
INSTANTIATE_TYPED_TEST_SUITE_P(Files, MaterialSourceConformanceTest,
                               FilesHarnesses);
}  // namespace testing

namespace {

std::unique_ptr<FilesSource> NewSource(const std::string& dir,
                                       absl::Duration debounce =
                                           absl::Milliseconds(20)) {
  FilesSourceOptions options;
  options.dir = dir;
  options.debounce = debounce;
  options.rewatch_interval = absl::Milliseconds(50);
  auto source = FilesSource::New(options);
  EXPECT_TRUE(source.ok()) << source.status();
  return *std::move(source);
}

// Waits up to `timeout` for `counter` to reach `at_least`.
bool WaitForCount(const std::atomic<int>& counter, int at_least,
                  absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (counter.load() < at_least) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST(FilesSourceTest, EmptyDirectoryNamesBothLayouts) {
  const std::string dir = MakeTempDir("empty");
  auto material = NewSource(dir)->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(material.status().message(), HasSubstr(dir));
  EXPECT_THAT(material.status().message(), HasSubstr("ca-cert.pem"));
  EXPECT_THAT(material.status().message(), HasSubstr("tls.crt"));
}

TEST(FilesSourceTest, MissingDirectoryIsNotFound) {
  auto material = NewSource(MakeTempDir("gone") + "/missing")->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.status().code(), absl::StatusCode::kNotFound);
}

TEST(FilesSourceTest, PartialIstioSetNamesExactlyTheMissingFiles) {
  const std::string dir = MakeTempDir("partial");
  const CaMaterialPem root = testkit::Root();
  ASSERT_TRUE(WriteTestFile(dir + "/ca-cert.pem", root.cert_pem).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/ca-key.pem", std::string(root.key_pem.view())).ok());
  auto material = NewSource(dir)->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(material.status().message(),
              HasSubstr("missing cert-chain.pem, root-cert.pem"));
  EXPECT_THAT(material.status().message(), Not(HasSubstr("missing ca-cert")));
}

TEST(FilesSourceTest, PartialTlsSetNamesTheMissingFile) {
  const std::string dir = MakeTempDir("partial_tls");
  const CaMaterialPem root = testkit::Root();
  ASSERT_TRUE(WriteTestFile(dir + "/tls.crt", root.cert_pem).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/tls.key", std::string(root.key_pem.view())).ok());
  auto material = NewSource(dir)->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(material.status().message(), HasSubstr("missing ca.crt"));
}

TEST(FilesSourceTest, IstioLayoutIsReadVerbatim) {
  const std::string dir = MakeTempDir("istio");
  const CaMaterialPem root = testkit::Root();
  const CaMaterialPem inter = testkit::Intermediate(root);
  ASSERT_TRUE(WriteTestFile(dir + "/ca-cert.pem", inter.cert_pem).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/ca-key.pem", std::string(inter.key_pem.view())).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/cert-chain.pem", inter.chain_pem).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/root-cert.pem", inter.root_bundle_pem).ok());
  auto material = NewSource(dir)->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(material->cert_pem, inter.cert_pem);
  EXPECT_TRUE(SecretEquals(material->key_pem, inter.key_pem));
  EXPECT_EQ(material->chain_pem, inter.chain_pem);
  EXPECT_EQ(material->root_bundle_pem, inter.root_bundle_pem);
}

TEST(FilesSourceTest, TlsLayoutSignsWithFirstBlockAndChainsThroughCaCrt) {
  const std::string dir = MakeTempDir("tls");
  const CaMaterialPem root = testkit::Root();
  const CaMaterialPem inter = testkit::Intermediate(root);
  // No trailing newline: the chain must still split cleanly.
  std::string tls_crt = inter.cert_pem;
  while (!tls_crt.empty() && tls_crt.back() == '\n') tls_crt.pop_back();
  ASSERT_TRUE(WriteTestFile(dir + "/tls.crt", tls_crt).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/tls.key", std::string(inter.key_pem.view())).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/ca.crt", inter.root_bundle_pem).ok());
  // Stray Istio-layout files are ignored once tls.crt exists, as in istiod.
  ASSERT_TRUE(WriteTestFile(dir + "/ca-cert.pem", "ignored").ok());
  auto material = NewSource(dir)->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(material->cert_pem, inter.cert_pem);
  EXPECT_EQ(material->chain_pem, tls_crt + "\n" + inter.root_bundle_pem);
  EXPECT_EQ(material->root_bundle_pem, inter.root_bundle_pem);
  auto bundle = KeyCertBundle::Create(*material);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
}

TEST(FilesSourceTest, KubeletSymlinkSwapIsReportedOnceAndFollowed) {
  const std::string dir = MakeTempDir("kubelet");
  const CaMaterialPem root = testkit::Root();
  const CaMaterialPem first = testkit::Intermediate(root, KeyType::kEcP256, absl::Now(), 1);
  const CaMaterialPem second = testkit::Intermediate(root, KeyType::kEcP256, absl::Now(), 2);
  auto files = [](const CaMaterialPem& m) {
    return std::map<std::string, std::string>{
        {"ca-cert.pem", m.cert_pem},
        {"ca-key.pem", std::string(m.key_pem.view())},
        {"cert-chain.pem", m.chain_pem},
        {"root-cert.pem", m.root_bundle_pem}};
  };
  ASSERT_TRUE(PublishLikeKubelet(dir, files(first)).ok());
  std::unique_ptr<FilesSource> source = NewSource(dir, absl::Milliseconds(200));
  auto calls = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(source->SetChangeCallback([calls] { ++*calls; }).ok());

  ASSERT_TRUE(PublishLikeKubelet(dir, files(second)).ok());
  ASSERT_TRUE(WaitForCount(*calls, 1));
  // One swap is many inotify events; the debounce folds them into one call.
  // Real time: no second call may come, so the debounce window must pass.
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_EQ(calls->load(), 1);
  auto material = source->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(material->cert_pem, second.cert_pem);
}

TEST(FilesSourceTest, BurstOfWritesIsDebounced) {
  const std::string dir = MakeTempDir("burst");
  std::unique_ptr<FilesSource> source = NewSource(dir, absl::Milliseconds(300));
  auto calls = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(source->SetChangeCallback([calls] { ++*calls; }).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(WriteTestFile(dir + "/ca-cert.pem", absl::StrCat("v", i)).ok());
  }
  ASSERT_TRUE(WaitForCount(*calls, 1));
  // Real time: no second call may come, so the debounce window must pass.
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_EQ(calls->load(), 1);
}

TEST(FilesSourceTest, DirectoryAppearingLaterIsWatched) {
  const std::string dir = MakeTempDir("late") + "/cacerts";
  std::unique_ptr<FilesSource> source = NewSource(dir);
  auto calls = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(source->SetChangeCallback([calls] { ++*calls; }).ok());
  // Real time: the directory must appear after the source found it missing.
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  // The watch is acquired within rewatch_interval; then a write reports.
  const int before = calls->load();
  EXPECT_TRUE(testkit::WaitFor([&] {
    EXPECT_TRUE(WriteTestFile(dir + "/ca-cert.pem", "x").ok());
    return WaitForCount(*calls, before + 1, absl::Milliseconds(100));
  }));
}

TEST(FilesSourceTest, RemovedCallbackIsNeverCalledAgain) {
  const std::string dir = MakeTempDir("removed");
  std::unique_ptr<FilesSource> source = NewSource(dir, absl::ZeroDuration());
  auto calls = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(source->SetChangeCallback([calls] { ++*calls; }).ok());
  ASSERT_TRUE(WriteTestFile(dir + "/a", "x").ok());
  ASSERT_TRUE(WaitForCount(*calls, 1));
  ASSERT_TRUE(source->SetChangeCallback(nullptr).ok());
  const int seen = calls->load();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(WriteTestFile(dir + "/a", "y").ok());
  // Real time: a call that never comes can only be shown by waiting.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(calls->load(), seen);
}

TEST(FilesSourceTest, WatchingDisabledIsUnimplemented) {
  FilesSourceOptions options;
  options.dir = MakeTempDir("nowatch");
  options.watch = false;
  auto source = FilesSource::New(options);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->SetChangeCallback([] {}).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(FilesSourceTest, RejectsBadOptions) {
  FilesSourceOptions options;
  options.dir = "";
  EXPECT_EQ(FilesSource::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.dir = "/tmp";
  options.rewatch_interval = absl::ZeroDuration();
  EXPECT_EQ(FilesSource::New(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FilesSourceTest, DescriptionNamesTheDirectory) {
  EXPECT_EQ(NewSource("/etc/cacerts/")->Description(), "files:/etc/cacerts");
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
