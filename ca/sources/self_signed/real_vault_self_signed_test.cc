// The self-signed root shared through a real HashiCorp Vault
// (VAULTCA_VAULT_BIN): replicas that start at the same instant agree on one
// root (KV v2 check-and-set, first writer wins), renew it once between
// them, and refuse a stored root they cannot use without overwriting it.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "ca/sources/self_signed/self_signed_vault_source.h"
#include "gtest/gtest.h"
#include "testing/real_vault.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {
namespace {

using testkit::RealVault;

constexpr int kReplicas = 3;
constexpr int kRounds = 20;

// What a vaultca role needs on the shared root: create, read, update.
constexpr char kPolicy[] = R"(path "secret/data/vaultca/*" {
  capabilities = ["create", "read", "update"]
}
)";

class RealVaultSelfSignedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_ = testkit::StartSuiteVault(&tls_, &vault_);
    if (!setup_.ok()) return;
    absl::StatusOr<std::string> policy =
        testkit::WriteFileIn(tls_->dir, "policy.hcl", kPolicy);
    if (!policy.ok()) {
      setup_ = policy.status();
      return;
    }
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=secret", "-version=2", "kv"},
             {"policy", "write", "vaultca", *policy}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) {
        setup_ = out.status();
        return;
      }
    }
    absl::StatusOr<std::string> token =
        vault_->Cli({"token", "create", "-field=token", "-policy=vaultca"});
    if (!token.ok()) {
      setup_ = token.status();
      return;
    }
    *token_ = std::string(absl::StripAsciiWhitespace(*token));
  }

  static void TearDownTestSuite() {
    delete vault_;
    vault_ = nullptr;
    delete tls_;
    tls_ = nullptr;
  }

  void SetUp() override {
    if (!setup_.ok() && testkit::MissingVaultAllowed() &&
        absl::StrContains(setup_.message(), "VAULTCA_VAULT_BIN")) {
      GTEST_SKIP() << setup_;
    }
    ASSERT_TRUE(setup_.ok()) << setup_;
  }

  // One replica: its own Vault client (its own connections) and source.
  static std::unique_ptr<SelfSignedVaultSource> Replica(
      const std::string& path,
      std::function<absl::Time()> clock = [] { return absl::Now(); }) {
    vault::VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token = SecretData(*token_);
    auto client = vault::VaultClient::New(config);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    SelfSignedVaultSourceOptions options;
    options.kv_path = path;
    options.key_type = KeyType::kEcP256;
    options.clock = std::move(clock);
    auto source = SelfSignedVaultSource::New(
        std::shared_ptr<vault::VaultClient>(*std::move(client)), options);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  // Fetches from every replica at the same instant.
  static std::vector<absl::StatusOr<CaMaterialPem>> FetchTogether(
      std::vector<std::unique_ptr<SelfSignedVaultSource>>& replicas) {
    std::vector<absl::StatusOr<CaMaterialPem>> results(
        replicas.size(), absl::UnknownError("not run"));
    absl::Barrier* start = new absl::Barrier(static_cast<int>(replicas.size()));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < replicas.size(); ++i) {
      threads.emplace_back([&, i] {
        if (start->Block()) delete start;
        results[i] = replicas[i]->Fetch();
      });
    }
    for (std::thread& t : threads) t.join();
    return results;
  }

  static int64_t Version(const std::string& path) {
    absl::StatusOr<std::string> out = vault_->Cli(
        {"kv", "metadata", "get", "-format=json",
         std::string(absl::StrReplaceAll(path, {{"/data/", "/"}}))});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return -1;
    const size_t at = out->find("\"current_version\": ");
    if (at == std::string::npos) return -1;
    return std::atoll(out->c_str() + at + 19);
  }

  static absl::Status setup_;
  static testkit::TestTls* tls_;
  static RealVault* vault_;
  static std::string* token_;
};

absl::Status RealVaultSelfSignedTest::setup_;
testkit::TestTls* RealVaultSelfSignedTest::tls_ = nullptr;
RealVault* RealVaultSelfSignedTest::vault_ = nullptr;
std::string* RealVaultSelfSignedTest::token_ = new std::string();

TEST_F(RealVaultSelfSignedTest, ReplicasStartedTogetherAgreeOnOneRoot) {
  for (int round = 0; round < kRounds; ++round) {
    const std::string path =
        absl::StrCat("secret/data/vaultca/together-", round);
    std::vector<std::unique_ptr<SelfSignedVaultSource>> replicas;
    for (int i = 0; i < kReplicas; ++i) replicas.push_back(Replica(path));
    std::vector<absl::StatusOr<CaMaterialPem>> got = FetchTogether(replicas);
    for (int i = 0; i < kReplicas; ++i) {
      ASSERT_TRUE(got[i].ok()) << "round " << round << ": " << got[i].status();
      EXPECT_EQ(got[i]->cert_pem, got[0]->cert_pem) << "round " << round;
      EXPECT_EQ(got[i]->key_pem.view(), got[0]->key_pem.view());
    }
    EXPECT_EQ(Version(path), 1) << "round " << round << ": one writer wins";
    // A replica that starts later reads the same root.
    absl::StatusOr<CaMaterialPem> late = Replica(path)->Fetch();
    ASSERT_TRUE(late.ok()) << late.status();
    EXPECT_EQ(late->cert_pem, got[0]->cert_pem);
  }
}

TEST_F(RealVaultSelfSignedTest, RenewalHappensOnceWithTheSameKey) {
  const std::string path = "secret/data/vaultca/renewal";
  absl::StatusOr<CaMaterialPem> first = Replica(path)->Fetch();
  ASSERT_TRUE(first.ok()) << first.status();
  // Nine years later: less than 20% of the ten-year life remains.
  const absl::Time later = absl::Now() + absl::Hours(24 * 365 * 9);
  std::vector<std::unique_ptr<SelfSignedVaultSource>> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.push_back(Replica(path, [later] { return later; }));
  }
  std::vector<absl::StatusOr<CaMaterialPem>> got = FetchTogether(replicas);
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    EXPECT_EQ(got[i]->cert_pem, got[0]->cert_pem);
    EXPECT_EQ(got[i]->key_pem.view(), first->key_pem.view()) << "same key";
  }
  EXPECT_NE(got[0]->cert_pem, first->cert_pem);
  EXPECT_EQ(Version(path), 2) << "one renewal between the replicas";
}

TEST_F(RealVaultSelfSignedTest, UnusableStoredRootIsReportedNotReplaced) {
  const std::string path = "secret/data/vaultca/broken";
  absl::StatusOr<CaMaterialPem> other = Replica("secret/data/vaultca/other")->Fetch();
  absl::StatusOr<CaMaterialPem> mine = Replica("secret/data/vaultca/mine")->Fetch();
  ASSERT_TRUE(other.ok() && mine.ok());
  // A certificate with somebody else's key.
  const std::string cert =
      testkit::WriteFileIn(tls_->dir, "cert.pem", mine->cert_pem).value();
  const std::string key =
      testkit::WriteFileIn(tls_->dir, "key.pem", other->key_pem.view()).value();
  ASSERT_TRUE(vault_->Cli({"kv", "put", "secret/vaultca/broken",
                           absl::StrCat("certificate=@", cert),
                           absl::StrCat("privateKey=@", key)})
                  .ok());
  absl::StatusOr<CaMaterialPem> got = Replica(path)->Fetch();
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(absl::StrContains(got.status().message(), path)) << got.status();
  EXPECT_EQ(Version(path), 1) << "never overwritten";
  // A secret without the key at all.
  ASSERT_TRUE(vault_->Cli({"kv", "put", "secret/vaultca/broken",
                           absl::StrCat("certificate=@", cert)})
                  .ok());
  got = Replica(path)->Fetch();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Version(path), 2);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
