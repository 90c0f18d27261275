// VaultClient against a real HashiCorp Vault (VAULTCA_VAULT_BIN) started by
// the test: TLS with test-time PKI, token auth, KV v1/v2 lifecycle, the
// seed's policy, PKI via Write, namespaces, token renewal/expiry, seal.
// Auth methods are in real_vault_auth_test.cc.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/real_vault_fixture.h"
#include "testing/tls.h"
#include "testing/wait.h"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using testkit::RealVaultTest;
using testkit::Trim;

#define ASSERT_OK VAULTCA_ASSERT_OK

TEST_F(RealVaultTest, HealthIsActive) {
  auto client = Client(Config());
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->state, HealthState::kActive);
  EXPECT_TRUE(health->initialized);
  EXPECT_FALSE(health->sealed);
  EXPECT_THAT(health->version, HasSubstr("1.14"));
}

TEST_F(RealVaultTest, TokenAuthReadsTheSeedReferences) {
  auto client = Client(Config());
  auto values = client->ReadReferences(
      {*ParseReference("vault:secret/data/pki/istiod#certificate"),
       *ParseReference("vault:secret/data/pki/istiod#privateKey")});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(Trim(std::string((*values)[0].view())), "-----CERT-----");
  EXPECT_EQ(Trim(std::string((*values)[1].view())), "-----KEY-----");
  EXPECT_EQ(client->token_info().ttl, absl::ZeroDuration());  // Root.
}

TEST_F(RealVaultTest, KvV1) {
  auto client = Client(Config());
  auto secret = client->ReadKv("kv1/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_FALSE(secret->v2);
  EXPECT_EQ(secret->Get("certificate")->view(), "v1cert");
  auto missing = client->ReadKv("kv1/none");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("path not found"));
}

TEST_F(RealVaultTest, KvV2VersionsDeleteDestroyUndelete) {
  ASSERT_OK(vault_->Cli({"kv", "put", "secret/lifecycle", "k=one"}));
  ASSERT_OK(vault_->Cli({"kv", "put", "secret/lifecycle", "k=two"}));
  ASSERT_OK(vault_->Cli({"kv", "put", "secret/lifecycle", "k=three"}));
  auto client = Client(Config());
  auto latest = client->ReadKv("secret/data/lifecycle");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_TRUE(latest->v2);
  EXPECT_EQ(latest->version, 3);
  EXPECT_EQ(latest->Get("k")->view(), "three");
  EXPECT_EQ(client->ReadKv("secret/data/lifecycle", 1)->Get("k")->view(), "one");

  ASSERT_OK(vault_->Cli({"kv", "delete", "-versions=1", "secret/lifecycle"}));
  auto deleted = client->ReadKv("secret/data/lifecycle", 1);
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(deleted.status().message()),
              HasSubstr("version 1 of secret/data/lifecycle was deleted at"));

  ASSERT_OK(vault_->Cli({"kv", "destroy", "-versions=2", "secret/lifecycle"}));
  auto destroyed = client->ReadKv("secret/data/lifecycle", 2);
  EXPECT_EQ(destroyed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(destroyed.status().message()),
              HasSubstr("version 2 of secret/data/lifecycle was destroyed"));

  ASSERT_OK(vault_->Cli({"kv", "undelete", "-versions=1", "secret/lifecycle"}));
  auto back = client->ReadKv("secret/data/lifecycle", 1);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Get("k")->view(), "one");

  auto missing_version = client->ReadKv("secret/data/lifecycle", 99);
  EXPECT_EQ(missing_version.status().code(), absl::StatusCode::kNotFound);
  auto missing = client->ReadKv("secret/data/never-written");
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("path not found"));
}

TEST_F(RealVaultTest, SeedPolicyAllowsTheReadAndDeniesEverythingElse) {
  const std::string token = PolicyToken();
  auto client = Client(Config(token));
  auto allowed = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(allowed.ok()) << allowed.status();

  auto other = client->ReadKv("secret/data/other");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("permission denied"));
  EXPECT_THAT(std::string(other.status().message()), ::testing::Not(HasSubstr(token)));
  auto old_version_meta = client->Read("secret/metadata/pki/istiod");
  EXPECT_EQ(old_version_meta.status().code(), absl::StatusCode::kPermissionDenied);
  auto write = client->Write("secret/data/pki/istiod", R"({"data":{"x":"y"}})");
  EXPECT_EQ(write.status().code(), absl::StatusCode::kPermissionDenied);
  auto v1 = client->ReadKv("kv1/pki/istiod");
  EXPECT_EQ(v1.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(RealVaultTest, PkiIssueThroughWrite) {
  ASSERT_OK(vault_->Cli({"secrets", "enable", "pki"}));
  ASSERT_OK(vault_->Cli({"write", "pki/root/generate/internal",
                         "common_name=vaultca test root", "ttl=24h"}));
  ASSERT_OK(vault_->Cli({"write", "pki/roles/workload", "allow_any_name=true",
                         "max_ttl=1h"}));
  auto client = Client(Config());
  auto issued = client->Write(
      "pki/issue/workload", R"({"common_name":"svc.example","ttl":"10m"})");
  ASSERT_TRUE(issued.ok()) << issued.status();
  nlohmann::json body = nlohmann::json::parse(issued->view(), nullptr, false);
  ASSERT_FALSE(body.is_discarded());
  ASSERT_TRUE(body.contains("data") && body["data"].contains("certificate"));
  EXPECT_THAT(body["data"]["certificate"].dump(), HasSubstr("BEGIN CERTIFICATE"));
  // A request Vault rejects (400) is InvalidArgument with Vault's reason.
  auto bad = client->Write("pki/issue/workload", R"({"ttl":"10m"})");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("common_name"));
}

TEST_F(RealVaultTest, NamespacesAreUnsupportedOnOss) {
  // Vault OSS has no namespaces. Record what a namespaced client sees.
  VaultConfig config = Config();
  config.vault_namespace = "team-a";
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/pki/istiod");
  RecordProperty("oss_namespace_result", secret.status().ToString());
  if (secret.ok()) {
    // OSS ignores X-Vault-Namespace and serves the root namespace.
    EXPECT_EQ(secret->Get("certificate").ok(), true);
  } else {
    EXPECT_EQ(secret.status().code(), absl::StatusCode::kNotFound)
        << secret.status();
  }
  std::cerr << "X-Vault-Namespace on Vault OSS: " << secret.status() << "\n";
}

TEST_F(RealVaultTest, ShortLivedTokenIsRenewedInTheBackground) {
  const std::string token = PolicyToken({"-ttl=6s", "-explicit-max-ttl=5m"});
  auto client = Client(Config(token));
  ASSERT_TRUE(client->Login().ok());
  // lookup-self reports what is left of the 6 s lease.
  EXPECT_GT(client->token_info().ttl, absl::Seconds(3));
  EXPECT_LE(client->token_info().ttl, absl::Seconds(6));
  // Real time: the 6 s lease must run out in the real Vault.
  absl::SleepFor(absl::Seconds(9));
  auto value = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#certificate"));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_GE(client->token_info().renewals, 2);
}

TEST_F(RealVaultTest, NonRenewableFixedTokenExpires) {
  const std::string token = PolicyToken({"-ttl=3s", "-renewable=false"});
  auto client = Client(Config(token));
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  // Real time: the real Vault must expire the 3 s token.
  absl::SleepFor(absl::Seconds(4));
  auto expired = client->ReadKv("secret/data/pki/istiod");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kPermissionDenied)
      << expired.status();
}

TEST_F(RealVaultTest, ZSealedVaultIsUnavailableUntilUnsealed) {
  auto client = Client(Config());
  ASSERT_TRUE(client->ReadKv("secret/data/pki/istiod").ok());
  ASSERT_OK(vault_->Cli({"operator", "seal"}));
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->state, HealthState::kSealed);
  EXPECT_EQ(health->ToStatus().code(), absl::StatusCode::kUnavailable);
  auto sealed = client->ReadKv("secret/data/pki/istiod");
  EXPECT_EQ(sealed.status().code(), absl::StatusCode::kUnavailable) << sealed.status();
  EXPECT_THAT(std::string(sealed.status().message()), HasSubstr("sealed"));

  ASSERT_OK(vault_->Cli({"operator", "unseal", vault_->unseal_key()}));
  absl::StatusOr<KvSecret> back;
  testkit::WaitFor(
      [&] {
        back = client->ReadKv("secret/data/pki/istiod");
        return back.ok();
      },
      absl::Seconds(10), absl::Milliseconds(100));
  ASSERT_TRUE(back.ok()) << back.status();
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
