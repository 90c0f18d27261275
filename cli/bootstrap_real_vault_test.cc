// `vaultca bootstrap` against the real Vault: the seed's policy, role and
// KV material, check-and-set, idempotence, --force, --dry-run.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/key_cert_bundle.h"
#include "cli/bootstrap.h"
#include "cli/testing/cli_test_env.h"
#include "testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunCli;
using testing::RunResult;
using testing::VaultEnv;

// RunBootstrap without a hook.
int BootstrapCommand(const std::vector<std::string>& args, const vault::EnvLookup& env,
                     std::ostream& out, std::ostream& err) {
  return RunBootstrap(args, env, out, err);
}

class BootstrapRealVaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = VaultEnv::Start();
    if (!env.ok()) {
      error_ = new std::string(env.status().ToString());
      return;
    }
    env_ = env->release();
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

  RunResult Bootstrap(std::vector<std::string> extra) const {
    std::vector<std::string> args = env_->TokenArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(BootstrapCommand, args);
  }

  nlohmann::json VaultJson(const std::vector<std::string>& args) const {
    std::vector<std::string> full = args;
    full.insert(full.end() - 1, "-format=json");
    auto out = env_->vault().Cli(full);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? nlohmann::json::parse(*out, nullptr, false) : nlohmann::json();
  }

  int64_t KvVersion(const std::string& cli_path) const {
    return VaultJson({"kv", "metadata", "get", cli_path})["data"].value("current_version",
                                                                         int64_t{-1});
  }

  static inline VaultEnv* env_ = nullptr;
  static inline std::string* error_ = nullptr;
};

TEST_F(BootstrapRealVaultTest, CreatesTheSeedsSetupAndARerunChangesNothing) {
  const std::vector<std::string> flags = {"--path=secret/data/pki/istiod",
                                          "--key-type=ec-p256"};
  RunResult first = Bootstrap(flags);
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("secrets engine secret/: enabled (kv version 2)"));
  EXPECT_THAT(first.out, HasSubstr("policy allow_istiod_secrets: created"));
  EXPECT_THAT(first.out, HasSubstr("auth method kubernetes/: enabled"));
  EXPECT_THAT(first.out, HasSubstr("role istiod: created"));
  EXPECT_THAT(first.out, HasSubstr("CA at secret/data/pki/istiod: written (version 1)"));

  // The seed's policy text, the seed's role.
  auto policy = env_->vault().Cli({"policy", "read", "allow_istiod_secrets"});
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(*policy, "path \"secret/data/pki/istiod\" { capabilities = [\"read\", \"list\"] }\n");
  nlohmann::json role = VaultJson({"read", "auth/kubernetes/role/istiod"})["data"];
  EXPECT_EQ(role["bound_service_account_names"],
            nlohmann::json::array({"istiod-service-account-cp-v115x"}));
  EXPECT_EQ(role["bound_service_account_namespaces"], nlohmann::json::array({"istio-system"}));
  EXPECT_EQ(role["token_policies"], nlohmann::json::array({"allow_istiod_secrets"}));
  EXPECT_EQ(role["token_ttl"], 3600);
  nlohmann::json kv = VaultJson({"kv", "get", "secret/pki/istiod"})["data"]["data"];
  for (const char* field : {"certificate", "privateKey", "certChain", "rootCert"}) {
    EXPECT_TRUE(kv.contains(field)) << field;
  }
  EXPECT_EQ(KvVersion("secret/pki/istiod"), 1);

  RunResult again = Bootstrap(flags);
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("holds a CA already (version 1); kept"));
  EXPECT_THAT(again.out, HasSubstr("nothing changed"));
  EXPECT_THAT(again.out, Not(HasSubstr("created")));
  EXPECT_EQ(KvVersion("secret/pki/istiod"), 1);

  // A changed role binding is converged, nothing else.
  RunResult rebind = Bootstrap({"--namespace=istio-system,istio-canary"});
  ASSERT_EQ(rebind.code, 0) << rebind.err;
  EXPECT_THAT(rebind.out, HasSubstr("role istiod: updated"));
  EXPECT_THAT(rebind.out, Not(HasSubstr("policy")));
}

TEST_F(BootstrapRealVaultTest, ImportIsIdempotentAndRefusesDifferentMaterialWithoutForce) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  const ca::CaMaterialPem first = testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 0);
  const ca::CaMaterialPem second = testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 1);
  auto import = [&](const ca::CaMaterialPem& m) -> std::vector<std::string> {
    return {"--path=secret/data/import/istiod", "--policy=import-policy", "--role=import-role",
            "--cert=" + env_->WriteFile("ca.crt", m.cert_pem),
            "--key=" + env_->WriteFile("ca.key", std::string(m.key_pem.view())),
            "--chain=" + env_->WriteFile("chain.pem", m.chain_pem),
            "--root=" + env_->WriteFile("root.pem", m.root_bundle_pem)};
  };
  RunResult created = Bootstrap(import(first));
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("written (version 1)"));

  RunResult same = Bootstrap(import(first));
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_THAT(same.out, HasSubstr("nothing changed"));
  EXPECT_EQ(KvVersion("secret/import/istiod"), 1);

  RunResult refused = Bootstrap(import(second));
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("holds different material (version 1): nothing was "
                                     "changed; re-run with --force"));
  EXPECT_EQ(KvVersion("secret/import/istiod"), 1);
  nlohmann::json kv = VaultJson({"kv", "get", "secret/import/istiod"})["data"]["data"];
  EXPECT_EQ(kv.value("certificate", ""), first.cert_pem);

  std::vector<std::string> forced = import(second);
  forced.push_back("--force");
  RunResult replaced = Bootstrap(forced);
  ASSERT_EQ(replaced.code, 0) << replaced.err;
  EXPECT_THAT(replaced.out, HasSubstr("replaced (--force; version 2)"));
  kv = VaultJson({"kv", "get", "secret/import/istiod"})["data"]["data"];
  EXPECT_EQ(kv.value("certificate", ""), second.cert_pem);
}

TEST_F(BootstrapRealVaultTest, AConcurrentKvPutWinsOverBootstrapsCheckAndSet) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  const ca::CaMaterialPem theirs = testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 2);
  // Someone's `vault kv put` lands between bootstrap's read (nothing
  // there) and its write (cas 0).
  testing::Command racing = [&](const std::vector<std::string>& args,
                                const vault::EnvLookup& env, std::ostream& out,
                                std::ostream& err) {
    return RunBootstrap(args, env, out, err, [&] {
      ASSERT_TRUE(env_->PutMaterial("secret/race/istiod", theirs).ok());
    });
  };
  std::vector<std::string> args = env_->TokenArgs();
  args.push_back("--path=secret/data/race/istiod");
  args.push_back("--policy=race-policy");
  RunResult raced = RunCli(racing, args);
  EXPECT_EQ(raced.code, 1) << raced.out;
  EXPECT_THAT(raced.err, HasSubstr("changed while bootstrap ran (check-and-set conflict)"));
  EXPECT_EQ(KvVersion("secret/race/istiod"), 1);
  nlohmann::json kv = VaultJson({"kv", "get", "secret/race/istiod"})["data"]["data"];
  EXPECT_EQ(kv.value("certificate", ""), theirs.cert_pem);
}

TEST_F(BootstrapRealVaultTest, BadImportIsRefusedBeforeAnyRequest) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  const ca::CaMaterialPem ca = testkit::Intermediate(root);
  RunResult mismatch = Bootstrap(
      {"--path=secret/data/bad/istiod", "--policy=bad-policy",
       "--cert=" + env_->WriteFile("ca.crt", ca.cert_pem),
       "--key=" + env_->WriteFile("other.key",
                                  std::string(testkit::CachedKeyPem(ca::KeyType::kEcP256, 4).view())),
       "--chain=" + env_->WriteFile("chain.pem", ca.chain_pem),
       "--root=" + env_->WriteFile("root.pem", ca.root_bundle_pem)});
  EXPECT_EQ(mismatch.code, 1);
  EXPECT_THAT(mismatch.err, HasSubstr("nothing was sent to Vault"));
  EXPECT_THAT(mismatch.err, HasSubstr("FAIL  private key"));
  EXPECT_FALSE(env_->vault().Cli({"policy", "read", "bad-policy"}).ok());

  RunResult unreadable = Bootstrap({"--cert=/nonexistent/ca.crt", "--key=/nonexistent/ca.key"});
  EXPECT_EQ(unreadable.code, 1);
  EXPECT_THAT(unreadable.err, HasSubstr("--cert /nonexistent/ca.crt: cannot be read"));
}

TEST_F(BootstrapRealVaultTest, AGeneratedRootsKeyIsKeptOnlyWhenItsCaIsWritten) {
  const std::string key_out = env_->dir() + "/root-key.pem";
  const std::vector<std::string> flags = {"--path=secret/data/keyed/istiod",
                                          "--policy=keyed-policy",
                                          "--root-key-out=" + key_out};
  RunResult first = Bootstrap(flags);
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("root key: written to " + key_out));
  struct stat st;
  ASSERT_EQ(stat(key_out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The file holds the key of the root now in Vault.
  nlohmann::json kv = VaultJson({"kv", "get", "secret/keyed/istiod"})["data"]["data"];
  std::ifstream in(key_out);
  std::stringstream key;
  key << in.rdbuf();
  ca::CaMaterialPem root;
  root.cert_pem = kv.value("rootCert", "");
  root.key_pem = SecretData(key.str());
  root.root_bundle_pem = root.cert_pem;
  EXPECT_TRUE(ca::KeyCertBundle::Create(root, absl::Now()).ok());

  // A re-run keeps the CA in Vault, so its new root's key is not written;
  // an existing file is never replaced, and nothing reaches Vault then.
  ASSERT_EQ(unlink(key_out.c_str()), 0);
  RunResult again = Bootstrap(flags);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("not written, the CA in Vault was kept"));
  EXPECT_NE(access(key_out.c_str(), F_OK), 0);
  const std::string taken = env_->WriteFile("taken-key.pem", "someone's key");
  RunResult refused = Bootstrap({"--path=secret/data/keyed2/istiod", "--policy=keyed2-policy",
                                 "--root-key-out=" + taken});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("never overwritten"));
  EXPECT_FALSE(env_->vault().Cli({"policy", "read", "keyed2-policy"}).ok());

  // Without it the operator is told the key is dropped; with an import
  // the flag is a usage error.
  RunResult dropped = Bootstrap({"--path=secret/data/keyed3/istiod", "--policy=keyed3-policy"});
  ASSERT_EQ(dropped.code, 0) << dropped.err;
  EXPECT_THAT(dropped.out, HasSubstr("WARN: the generated root's key is not kept"));
  RunResult import = Bootstrap({"--cert=/x/ca.crt", "--key=/x/ca.key", "--root-key-out=" + key_out});
  EXPECT_EQ(import.code, 2);
}

TEST_F(BootstrapRealVaultTest, DryRunSendsNoRequest) {
  // Pointed at the real Vault: nothing appears there.
  RunResult dry = Bootstrap({"--dry-run", "--path=secret/data/dry/istiod",
                             "--policy=dry-policy", "--role=dry-role"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("path \"secret/data/dry/istiod\" { capabilities = [\"read\", \"list\"] }"));
  EXPECT_THAT(dry.out, HasSubstr("POST /v1/auth/kubernetes/role/dry-role"));
  EXPECT_THAT(dry.out, HasSubstr("\"privateKey\":\"<redacted private key"));
  EXPECT_THAT(dry.out, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_FALSE(env_->vault().Cli({"policy", "read", "dry-policy"}).ok());
  EXPECT_FALSE(env_->vault().Cli({"read", "auth/kubernetes/role/dry-role"}).ok());
  // Pointed at nothing: it still succeeds, so it made no connection.
  RunResult nowhere = RunCli(BootstrapCommand, {"--dry-run", "--vault-addr=https://127.0.0.1:1",
                                         "--token-file=/nonexistent"});
  EXPECT_EQ(nowhere.code, 0) << nowhere.err;
}

TEST_F(BootstrapRealVaultTest, AnUnprivilegedTokenIsToldWhatItNeeds) {
  auto token = env_->PolicyToken("default");
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<std::string> args = env_->TokenArgs(*token);
  args.push_back("--path=secret/data/denied/istiod");
  RunResult denied = RunCli(BootstrapCommand, args);
  EXPECT_EQ(denied.code, 1);
  EXPECT_THAT(denied.err, HasSubstr("permission denied"));
  EXPECT_THAT(denied.err, HasSubstr("bootstrap needs a token that may manage mounts"));
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
