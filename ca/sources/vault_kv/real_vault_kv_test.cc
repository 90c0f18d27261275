// The Vault KV CA source and the caching CA against a real HashiCorp Vault
// (VAULTCA_VAULT_BIN) started by the test: the seed's exact setup steps,
// rotation by `vault kv put` under continuous signing, and the faults an
// operator meets (sealed, token revoked, secret deleted, garbage, a key
// that does not match, a half-done update).
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <atomic>
#include <iostream>
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
#include "ca/sources/vault_kv/vault_kv_source.h"
#include "testing/real_vault_fixture.h"
#include "testing/signing.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "testing/tls.h"
#include "testing/wait.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;

// A real Vault with KV v2 at secret/ and the seed's policy for istiod.
class RealVaultKvTest : public testkit::RealVaultSuite {
 protected:
  // `vault kv put secret/pki/istiod k=@file ...` for each (key, value).
  static void KvPut(const std::vector<std::pair<std::string, std::string>>& kvs) {
    std::vector<std::string> args = {"kv", "put", "secret/pki/istiod"};
    for (const auto& [key, value] : kvs) {
      const std::string file =
          testkit::WriteFileIn(tls_->dir, absl::StrCat("put-", key), value)
              .value();
      args.push_back(absl::StrCat(key, "=@", file));
    }
    absl::StatusOr<std::string> out = vault_->Cli(args);
    ASSERT_TRUE(out.ok()) << out.status();
  }

  static void PutMaterial(const CaMaterialPem& m) {
    KvPut({{"privateKey", std::string(m.key_pem.view())},
           {"certificate", m.cert_pem},
           {"certChain", m.chain_pem},
           {"rootCert", m.root_bundle_pem}});
  }

  static std::unique_ptr<VaultKvSource> Source(const std::string& token,
                                               bool full_refs) {
    vault::VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token = SecretData(token);
    config.timeout = absl::Seconds(5);
    config.max_retries = 0;
    vault::ClientOptions options;
    options.warn = [](absl::string_view) {};
    auto client = vault::VaultClient::New(config, options);
    EXPECT_TRUE(client.ok()) << client.status();
    VaultKvSourceOptions refs;
    refs.cert_ref = "vault:secret/data/pki/istiod#certificate";
    refs.key_ref = "vault:secret/data/pki/istiod#privateKey";
    if (full_refs) {
      refs.chain_ref = "vault:secret/data/pki/istiod#certChain";
      refs.root_ref = "vault:secret/data/pki/istiod#rootCert";
    }
    auto source = VaultKvSource::New(
        std::shared_ptr<vault::VaultClient>(*std::move(client)), refs);
    EXPECT_TRUE(source.ok()) << source.status();
    return *std::move(source);
  }
};

CaMaterialPem NamedIntermediate(const CaMaterialPem& root, int n) {
  auto root_bundle = KeyCertBundle::Create(root);
  EXPECT_TRUE(root_bundle.ok());
  IntermediateOptions options;
  options.common_name = absl::StrCat("vault-inter-", n);
  auto material = GenerateIntermediate(**root_bundle, options);
  EXPECT_TRUE(material.ok());
  return *material;
}

TEST_F(RealVaultKvTest, SeedStepsThenLoad) {
  // vault kv put secret/pki/istiod privateKey=@vault-ca.key certificate=@vault-ca.crt
  const CaMaterialPem root = testkit::Root(KeyType::kRsa);
  KvPut({{"privateKey", std::string(root.key_pem.view())},
         {"certificate", root.cert_pem}});
  auto ca = CachingCertificateAuthority::New(Source(PolicyToken(), false),
                                             CachingCaOptions());
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto chain = (*ca)->Sign(testkit::TestSignRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(testkit::VerifyIssued(*chain, root.cert_pem).ok());
  EXPECT_EQ(*(*ca)->RootBundlePem(), root.cert_pem);
}

TEST_F(RealVaultKvTest, RotationByKvPutWhileSigningAndEveryFault) {
  const CaMaterialPem root = testkit::Root(KeyType::kRsa);
  const CaMaterialPem first = NamedIntermediate(root, 1);
  const CaMaterialPem second = NamedIntermediate(root, 2);
  PutMaterial(first);
  const std::string token = PolicyToken();
  CachingCaOptions options;
  options.refresh_interval = absl::Milliseconds(500);
  options.min_retry_backoff = absl::Milliseconds(50);
  options.max_retry_backoff = absl::Milliseconds(200);
  options.max_staleness = absl::Seconds(5);
  auto ca = CachingCertificateAuthority::New(Source(token, true), options);
  ASSERT_TRUE(ca.ok()) << ca.status();

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, issued{0};
  std::atomic<int64_t> first_second_nanos{0};
  std::thread signer([&] {
    while (!stop.load()) {
      auto chain = (*ca)->Sign(testkit::TestSignRequest());
      if (!chain.ok() || !testkit::VerifyIssued(*chain, root.cert_pem).ok()) {
        failures.fetch_add(1);
        continue;
      }
      issued.fetch_add(1);
      if (first_second_nanos.load() == 0 &&
          absl::StrContains(*testkit::IssuerOf(*chain), "vault-inter-2")) {
        first_second_nanos = absl::ToUnixNanos(absl::Now());
      }
    }
  });
  auto signing_goes_on = [&] {
    const int before = issued.load();
    return testkit::WaitFor([&] { return issued.load() > before; },
                            absl::Seconds(10));
  };

  // Rotation: picked up within one refresh interval (plus jitter, the
  // Vault round trip and the validation).
  ASSERT_TRUE(signing_goes_on());
  const absl::Time put_at = absl::Now();
  PutMaterial(second);
  while (first_second_nanos.load() == 0 && absl::Now() - put_at < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_NE(first_second_nanos.load(), 0) << "rotation never seen";
  const absl::Duration pickup = absl::FromUnixNanos(first_second_nanos.load()) - put_at;
  EXPECT_LT(pickup, absl::Milliseconds(550) + absl::Milliseconds(1500)) << pickup;
  std::cerr << "rotation picked up " << pickup << " after the kv put\n";
  EXPECT_EQ((*ca)->Stats().rotations, 1);

  // Garbage, a key that does not match, a half-done update: all rejected,
  // never served. Each stays in Vault until a refresh has seen it (a
  // refresh every 500 ms plus jitter, so a fixed sleep could miss one).
  auto within_10s = [](auto done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return done();
  };
  KvPut({{"privateKey", "garbage"}, {"certificate", "garbage"},
         {"certChain", second.chain_pem}, {"rootCert", second.root_bundle_pem}});
  EXPECT_TRUE(within_10s([&] { return (*ca)->Stats().failures.parse >= 1; }));
  ASSERT_TRUE(signing_goes_on());
  CaMaterialPem half = NamedIntermediate(root, 3);
  half.key_pem = second.key_pem;
  PutMaterial(half);
  EXPECT_TRUE(within_10s([&] { return (*ca)->Stats().failures.validation >= 1; }));
  ASSERT_TRUE(signing_goes_on());
  EXPECT_EQ((*ca)->Stats().rotations, 1);
  PutMaterial(second);

  // Sealed past max_staleness: the material turns stale, and signing and
  // readiness go on with it (every replica sees the same outage).
  ASSERT_TRUE(vault_->Cli({"operator", "seal"}).ok());
  ASSERT_TRUE(signing_goes_on());
  EXPECT_TRUE((*ca)->IsReady());
  EXPECT_TRUE(within_10s([&] { return (*ca)->Stats().stale; }));
  EXPECT_TRUE((*ca)->IsReady()) << (*ca)->Readiness();
  ASSERT_TRUE(signing_goes_on());
  ASSERT_TRUE(vault_->Cli({"operator", "unseal", vault_->unseal_key()}).ok());
  EXPECT_TRUE(within_10s([&] { return !(*ca)->Stats().stale; }))
      << (*ca)->Stats().last_error;
  EXPECT_TRUE((*ca)->IsReady()) << (*ca)->Readiness();

  // Secret deleted, then the token revoked: signing continues.
  ASSERT_TRUE(vault_->Cli({"kv", "metadata", "delete", "secret/pki/istiod"}).ok());
  ASSERT_TRUE(signing_goes_on());
  ASSERT_TRUE(vault_->Cli({"token", "revoke", token}).ok());
  const int64_t fetch_failures = (*ca)->Stats().failures.fetch;
  ASSERT_TRUE(signing_goes_on());
  EXPECT_TRUE(testkit::WaitFor(
      [&] { return (*ca)->Stats().failures.fetch > fetch_failures; },
      absl::Seconds(10)));
  EXPECT_GT((*ca)->Stats().failures.fetch, fetch_failures);
  EXPECT_THAT((*ca)->Stats().last_error, HasSubstr("fetch"));

  stop = true;
  signer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(issued.load(), 0);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
