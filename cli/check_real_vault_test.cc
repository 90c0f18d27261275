// `vaultca check` against the real Vault, logging in with tokens of the
// seed's policy (kubernetes logins: sync_real_test.cc).

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/check.h"
#include "cli/testing/cli_test_env.h"
#include "testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;
using testing::RunCli;
using testing::RunResult;
using testing::VaultEnv;

class CheckRealVaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = VaultEnv::Start();
    if (!env.ok()) {
      error_ = new std::string(env.status().ToString());
      return;
    }
    env_ = env->release();
    absl::Status s = Configure();
    if (!s.ok()) error_ = new std::string(s.ToString());
  }
  static absl::Status Configure() {
    auto& v = env_->vault();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=secret", "-version=2", "kv"},
             {"policy", "write", "allow_istiod_secrets",
              env_->WriteFile("p.hcl", "path \"secret/data/pki/istiod\" { capabilities = [\"read\", \"list\"] }")},
             {"policy", "write", "all_pki",
              env_->WriteFile("all.hcl", "path \"secret/data/pki/*\" { capabilities = [\"read\"] }")}}) {
      if (auto out = v.Cli(args); !out.ok()) return out.status();
    }
    const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
    return env_->PutMaterial("secret/pki/istiod", testkit::Intermediate(root));
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
    delete error_;
    error_ = nullptr;
  }
  void SetUp() override {
    const std::string error = error_ == nullptr ? "" : *error_;
    VAULTCA_CLI_REQUIRE_PEER(error);
  }
  RunResult Check(const std::string& policy, std::vector<std::string> extra) const {
    auto token = env_->PolicyToken(policy);
    EXPECT_TRUE(token.ok()) << token.status();
    std::vector<std::string> args = env_->TokenArgs(token.ok() ? *token : "");
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(RunCheck, args);
  }

  static inline VaultEnv* env_ = nullptr;
  static inline std::string* error_ = nullptr;
};

TEST_F(CheckRealVaultTest, PassesOnGoodMaterialWithTheSeedsPolicy) {
  RunResult r = Check("allow_istiod_secrets", {});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("PASS  vault login: " + env_->vault().address() + " (token auth)"));
  EXPECT_THAT(r.out, HasSubstr("PASS  vault read: vault:secret/data/pki/istiod#certificate"));
  EXPECT_THAT(r.out, HasSubstr("PASS  private key: matches the signing certificate"));
  EXPECT_THAT(r.out, HasSubstr("PASS  chain and signing probe"));
  EXPECT_THAT(r.out, HasSubstr("PASS  test CSR"));
  EXPECT_THAT(r.out, HasSubstr("OK: "));
}

TEST_F(CheckRealVaultTest, PassesOnTheSeedsOwnTwoFieldSecret) {
  // `vault kv put secret/pki/istiod privateKey=@ca.key certificate=@ca.crt`
  // with a self-signed CA, exactly as the seed does it.
  ASSERT_TRUE(env_->PutMaterial("secret/pki/seed", testkit::Root(ca::KeyType::kRsa), false).ok());
  RunResult r = Check("all_pki", {"--cert-ref=vault:secret/data/pki/seed#certificate",
                                  "--key-ref=vault:secret/data/pki/seed#privateKey"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 in the chain, 1 root(s)"));
}

TEST_F(CheckRealVaultTest, FailsOnAKeyMismatch) {
  ca::CaMaterialPem m = testkit::Intermediate(testkit::Root(ca::KeyType::kEcP256));
  m.key_pem = testkit::CachedKeyPem(ca::KeyType::kEcP256, 6);
  ASSERT_TRUE(env_->PutMaterial("secret/pki/mismatch", m).ok());
  RunResult r = Check("all_pki", {"--cert-ref=vault:secret/data/pki/mismatch#certificate",
                                  "--key-ref=vault:secret/data/pki/mismatch#privateKey"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL  private key: the private key is not the key of the certificate"));
  EXPECT_THAT(r.out, HasSubstr("FAILED: "));
}

TEST_F(CheckRealVaultTest, FailsOnAnExpiredCertificate) {
  ASSERT_TRUE(env_->PutMaterial("secret/pki/expired", testkit::ExpiredCa()).ok());
  RunResult r = Check("all_pki", {"--cert-ref=vault:secret/data/pki/expired#certificate",
                                  "--key-ref=vault:secret/data/pki/expired#privateKey"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL  expiry of signing certificate: O=cluster.local expired"));
}

TEST_F(CheckRealVaultTest, FailsWhenThePolicyDoesNotGrantThePath) {
  RunResult r = Check("default", {});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("PASS  vault login"));
  EXPECT_THAT(r.out, HasSubstr("FAIL  vault read: "));
  EXPECT_THAT(r.out, HasSubstr("permission denied"));
  EXPECT_THAT(r.out, HasSubstr("grant read on the path in the role's policy"));
}

TEST_F(CheckRealVaultTest, ARevokedTokenFailsTheLoginLine) {
  auto token = env_->PolicyToken("allow_istiod_secrets");
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(env_->vault().Cli({"token", "revoke", *token}).ok());
  std::vector<std::string> args = env_->TokenArgs(*token);
  RunResult r = RunCli(RunCheck, args);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAIL  vault login: "));
}

TEST_F(CheckRealVaultTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCli(RunCheck, {"--no-such-flag"}).code, 2);
  RunResult bad_ref = RunCli(RunCheck, {"--vault-addr=https://127.0.0.1:1", "--token-file=/x",
                                     "--cert-ref=secret/data/x"});
  EXPECT_EQ(bad_ref.code, 2);
  RunResult help = RunCli(RunCheck, {"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("1  a check failed"));
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
