#include "ca/sources/vault_kv/vault_kv_source.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/caching/caching_ca.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/testing/conformance_checks.h"
#include "ca/sources/testing/material_source_conformance.h"
#include "ca/sources/vault_kv/testing/fake_kv.h"
#include "common/sync.h"
#include "nlohmann/json.hpp"
#include "testing/signing.h"
#include "testing/test_pki.h"
#include "testing/wait.h"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;
using testing::BadMaterial;
using testing::FakeKv;
using testing::kApiPath;
using testing::kPath;
using vault::testing::KvV2Body;
using vault::testing::RecordedRequest;

std::unique_ptr<VaultKvSource> MustNew(std::shared_ptr<vault::VaultClient> client,
                                       VaultKvSourceOptions options) {
  auto source = VaultKvSource::New(std::move(client), std::move(options));
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

VaultKvSourceOptions SeedRefs() {
  VaultKvSourceOptions options;
  options.cert_ref = absl::StrCat("vault:", kPath, "#certificate");
  options.key_ref = absl::StrCat("vault:", kPath, "#privateKey");
  return options;
}

VaultKvSourceOptions FullRefs() {
  VaultKvSourceOptions options = SeedRefs();
  options.chain_ref = absl::StrCat("vault:", kPath, "#certChain");
  options.root_ref = absl::StrCat("vault:", kPath, "#rootCert");
  return options;
}

// The conformance harness. kIntermediate: an intermediate with chain and
// root references; otherwise the seed's case, a self-signed CA with only
// the certificate and key references.
template <bool kIntermediate>
class VaultKvHarness {
 public:
  static constexpr bool kReportsChanges = false;

  VaultKvHarness()
      : now_(absl::Now()), root_(testkit::Root(KeyType::kRsa, now_)) {
    EXPECT_TRUE(Install(Next()).ok());
  }

  std::unique_ptr<MaterialSource> NewSource() {
    return MustNew(kv_.NewClient(), kIntermediate ? FullRefs() : SeedRefs());
  }
  absl::Time Now() { return now_; }
  absl::Status Rotate() { return Install(Next()); }
  absl::Status InstallBad(BadMaterial kind) {
    CaMaterialPem bad = installed_;
    if (kind == BadMaterial::kGarbageCert) {
      bad.cert_pem = "not a certificate";
    } else {
      bad.key_pem = testkit::CachedKeyPem(KeyType::kEcP256, 99);
    }
    kv_.PutMaterial(bad, kIntermediate);
    return absl::OkStatus();
  }
  absl::Time ExpectedNotAfter() { return expected_not_after_; }

 private:
  CaMaterialPem Next() {
    ++slot_;
    if (kIntermediate) {
      return testkit::Intermediate(root_, KeyType::kEcP256, now_, slot_);
    }
    return testkit::Root(KeyType::kEcP256, now_, slot_, absl::Hours(24 * 365));
  }
  absl::Status Install(const CaMaterialPem& material) {
    auto bundle = KeyCertBundle::Create(material, now_);
    if (!bundle.ok()) return bundle.status();
    expected_not_after_ = (*bundle)->not_after();
    installed_ = material;
    kv_.PutMaterial(material, kIntermediate);
    return absl::OkStatus();
  }

  FakeKv kv_;
  const absl::Time now_;
  const CaMaterialPem root_;
  int slot_ = 0;
  CaMaterialPem installed_;
  absl::Time expected_not_after_;
};

}  // namespace

namespace testing {
using VaultKvHarnesses =
    ::testing::Types<VaultKvHarness<false>, VaultKvHarness<true>>;
INSTANTIATE_TYPED_TEST_SUITE_P(VaultKv, MaterialSourceConformanceTest,
                               VaultKvHarnesses);
}  // namespace testing

namespace {

TEST(VaultKvSourceTest, AllKeysOfOnePathAreReadInOneRequest) {
  FakeKv kv;
  const CaMaterialPem inter = testkit::Intermediate(testkit::Root());
  kv.PutMaterial(inter, true);
  auto source = MustNew(kv.NewClient(), FullRefs());
  kv.fake().ClearRequests();
  auto material = source->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(kv.fake().Count("GET", kApiPath), 1);
  EXPECT_EQ(material->cert_pem, inter.cert_pem);
  EXPECT_TRUE(SecretEquals(material->key_pem, inter.key_pem));
  EXPECT_EQ(material->chain_pem, inter.chain_pem);
  EXPECT_EQ(material->root_bundle_pem, inter.root_bundle_pem);
  EXPECT_EQ(source->Description(), "vault:secret/data/pki/istiod");
}

TEST(VaultKvSourceTest, SeedCaseSelfSignedCertIsItsOwnRoot) {
  FakeKv kv;
  const CaMaterialPem root = testkit::Root();
  kv.PutMaterial(root, false);
  auto material = MustNew(kv.NewClient(), SeedRefs())->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(material->root_bundle_pem, root.cert_pem);
  EXPECT_TRUE(material->chain_pem.empty());
  EXPECT_TRUE(KeyCertBundle::Create(*material).ok());
}

TEST(VaultKvSourceTest, NonSelfSignedCertWithoutChainAsksForTheReference) {
  FakeKv kv;
  kv.PutMaterial(testkit::Intermediate(testkit::Root()), false);
  auto material = MustNew(kv.NewClient(), SeedRefs())->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(material.status().message(), HasSubstr("not self-signed"));
  EXPECT_THAT(material.status().message(), HasSubstr("chain reference"));
  EXPECT_THAT(material.status().message(), HasSubstr("#certificate"));
}

TEST(VaultKvSourceTest, FullChainInTheCertificateValueSuppliesChainAndRoot) {
  // The seed's two keys, with certificate=@fullchain.pem (intermediate,
  // then root): how an operator rotates to a new intermediate under the
  // same root without adding references.
  FakeKv kv;
  const CaMaterialPem inter = testkit::Intermediate(testkit::Root());
  CaMaterialPem stored = inter;
  stored.cert_pem = inter.chain_pem;  // The intermediate, then the root.
  kv.PutMaterial(stored, false);
  auto material = MustNew(kv.NewClient(), SeedRefs())->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  auto bundle = KeyCertBundle::Create(*material);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto expected = KeyCertBundle::Create(inter);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ((*bundle)->root_fingerprints(), (*expected)->root_fingerprints());
  EXPECT_EQ((*bundle)->cert_pem(), (*expected)->cert_pem());
  EXPECT_EQ((*bundle)->chain_pems(), (*expected)->chain_pems());

  stored.cert_pem = inter.cert_pem + inter.cert_pem;  // No root at the end.
  kv.PutMaterial(stored, false);
  auto refused = MustNew(kv.NewClient(), SeedRefs())->Fetch();
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("self-signed root"));
}

TEST(VaultKvSourceTest, ChainEndingWithTheRootSuppliesTheRoot) {
  FakeKv kv;
  const CaMaterialPem inter = testkit::Intermediate(testkit::Root());
  kv.PutMaterial(inter, true);
  VaultKvSourceOptions options = SeedRefs();
  options.chain_ref = absl::StrCat("vault:", kPath, "#certChain");
  auto material = MustNew(kv.NewClient(), options)->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  auto bundle = KeyCertBundle::Create(*material);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto expected = KeyCertBundle::Create(inter);
  EXPECT_EQ((*bundle)->root_fingerprints(), (*expected)->root_fingerprints());
}

TEST(VaultKvSourceTest, ChainWithoutRootAsksForTheRootReference) {
  FakeKv kv;
  CaMaterialPem inter = testkit::Intermediate(testkit::Root());
  inter.chain_pem = inter.cert_pem;  // Only the intermediate.
  kv.PutMaterial(inter, true);
  VaultKvSourceOptions options = SeedRefs();
  options.chain_ref = absl::StrCat("vault:", kPath, "#certChain");
  auto material = MustNew(kv.NewClient(), options)->Fetch();
  ASSERT_FALSE(material.ok());
  EXPECT_THAT(material.status().message(), HasSubstr("root reference"));
}

TEST(VaultKvSourceTest, PinnedVersionIsRequestedAndServedEvenAfterAPut) {
  FakeKv kv;
  const CaMaterialPem first = testkit::Root(KeyType::kEcP256, absl::Now(), 1);
  const int v1 = kv.PutMaterial(first, false);
  kv.PutMaterial(testkit::Root(KeyType::kEcP256, absl::Now(), 2), false);
  VaultKvSourceOptions options = SeedRefs();
  options.cert_ref += absl::StrCat("#", v1);
  options.key_ref += absl::StrCat("#", v1);
  auto source = MustNew(kv.NewClient(), options);
  EXPECT_EQ(source->Description(), "vault:secret/data/pki/istiod#v1");
  kv.fake().ClearRequests();
  auto material = source->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(material->cert_pem, first.cert_pem);
  std::vector<RecordedRequest> reads;
  for (const RecordedRequest& request : kv.fake().requests()) {
    if (request.path == kApiPath) reads.push_back(request);
  }
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].params.at("version"), "1");
}

TEST(VaultKvSourceTest, KeysOnTwoPathsTakeTwoRequests) {
  FakeKv kv;
  const CaMaterialPem root = testkit::Root();
  kv.PutMaterial(root, false);
  kv.fake().SetJson("GET", "/v1/secret/data/pki/roots", 200,
                    KvV2Body(nlohmann::json{{"bundle", root.cert_pem}}.dump(), 1));
  VaultKvSourceOptions options = SeedRefs();
  options.root_ref = "vault:secret/data/pki/roots#bundle";
  auto source = MustNew(kv.NewClient(), options);
  kv.fake().ClearRequests();
  ASSERT_TRUE(source->Fetch().ok());
  EXPECT_EQ(kv.fake().Count("GET", kApiPath), 1);
  EXPECT_EQ(kv.fake().Count("GET", "/v1/secret/data/pki/roots"), 1);
  EXPECT_EQ(source->Description(),
            "vault:secret/data/pki/istiod,secret/data/pki/roots");
}

TEST(VaultKvSourceTest, VaultErrorsKeepTheirCodeAndNameTheSource) {
  FakeKv kv;
  // Nothing stored yet: the path is not found.
  auto source = MustNew(kv.NewClient(), SeedRefs());
  auto missing = source->Fetch();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("vault:secret/data/pki/istiod"));

  // A key missing from the secret.
  kv.Put({{"certificate", testkit::Root().cert_pem}});
  auto no_key = source->Fetch();
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_key.status().message(), HasSubstr("privateKey"));

  // Sealed.
  kv.SetDown(true);
  auto sealed = source->Fetch();
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.status().code(), absl::StatusCode::kUnavailable);

  // A revoked token.
  kv.SetDown(false);
  kv.fake().RequireToken("s.another-token");
  auto denied = source->Fetch();
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(VaultKvSourceTest, RejectsBadReferences) {
  FakeKv kv;
  VaultKvSourceOptions options = SeedRefs();
  options.key_ref = "secret/data/pki/istiod#privateKey";  // No "vault:".
  auto source = VaultKvSource::New(kv.NewClient(), options);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(source.status().message(), HasSubstr("key reference"));
  options = SeedRefs();
  options.cert_ref = "";
  EXPECT_EQ(VaultKvSource::New(kv.NewClient(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VaultKvSource::New(nullptr, SeedRefs()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The issue's acceptance scenario against the fake Vault: the seed's
// `vault kv put` layout, a rotation by a new put picked up within one
// refresh interval while signers issue continuously, and Vault going down
// mid-run.
TEST(VaultKvSourceTest, CachingCaRotatesOnKvPutAndRidesOutAnOutage) {
  FakeKv kv;
  const CaMaterialPem root = testkit::Root(KeyType::kRsa, absl::Now());
  auto root_bundle = KeyCertBundle::Create(root);
  ASSERT_TRUE(root_bundle.ok());
  auto intermediate = [&](int n) {
    IntermediateOptions options;
    options.common_name = absl::StrCat("vault-inter-", n);
    auto material = GenerateIntermediate(**root_bundle, options);
    EXPECT_TRUE(material.ok());
    return *material;
  };
  kv.PutMaterial(intermediate(1), true);
  auto source = MustNew(kv.NewClient(), FullRefs());
  CachingCaOptions options;
  options.refresh_interval = absl::Milliseconds(200);
  options.min_retry_backoff = absl::Milliseconds(20);
  options.max_retry_backoff = absl::Milliseconds(100);
  auto ca = CachingCertificateAuthority::New(std::move(source), options);
  ASSERT_TRUE(ca.ok()) << ca.status();

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, issued{0}, by_second{0};
  std::vector<std::thread> signers;
  for (int t = 0; t < 4; ++t) {
    signers.emplace_back([&] {
      while (!stop.load()) {
        auto chain = (*ca)->Sign(testkit::TestSignRequest());
        if (!chain.ok() || !testkit::VerifyIssued(*chain, root.cert_pem).ok()) {
          failures.fetch_add(1);
          continue;
        }
        issued.fetch_add(1);
        if (absl::StrContains(*testkit::IssuerOf(*chain), "vault-inter-2")) {
          by_second.fetch_add(1);
        }
      }
    });
  }
  ASSERT_TRUE(testkit::WaitFor([&] { return issued.load() > 0; }));
  const absl::Time put_at = absl::Now();
  kv.PutMaterial(intermediate(2), true);
  while (by_second.load() == 0 && absl::Now() - put_at < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Duration pickup = absl::Now() - put_at;
  EXPECT_GT(by_second.load(), 0);
  // Within one refresh interval (+ jitter), plus slack for the fetch,
  // validation and a signing round, which sanitizer builds slow down a lot.
  EXPECT_LT(pickup, absl::Milliseconds(200) * 1.1 + absl::Seconds(2)) << pickup;

  // Vault goes down: signing continues with the last good material.
  kv.SetDown(true);
  const int before = issued.load();
  EXPECT_TRUE(testkit::WaitFor([&] {
    return issued.load() > before && (*ca)->Stats().failures.fetch > 0;
  }));
  EXPECT_GT(issued.load(), before);
  EXPECT_GT((*ca)->Stats().failures.fetch, 0);
  EXPECT_TRUE((*ca)->IsReady());  // Within max_staleness.
  kv.SetDown(false);
  stop = true;
  for (std::thread& thread : signers) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*ca)->Stats().rotations, 1);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
