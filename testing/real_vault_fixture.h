#ifndef VAULTCA_TESTING_REAL_VAULT_FIXTURE_H_
#define VAULTCA_TESTING_REAL_VAULT_FIXTURE_H_

// Test-only GoogleTest fixtures: one real Vault per test suite (see
// real_vault.h), configured like the seed: RealVaultSuite (KV v2 at
// secret/, policy allow_istiod_secrets) and RealVaultTest (plus KV v1 at
// kv1/ and material at secret/pki/istiod).
// Fails when VAULTCA_VAULT_BIN is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "testing/real_vault.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"
#include "vault/client.h"

namespace vaultca {
namespace testkit {

inline constexpr char kPolicy[] = R"(path "secret/data/pki/istiod" {
  capabilities = ["read", "list"]
}
)";

#define VAULTCA_ASSERT_OK(expr)                                       \
  do {                                                        \
    const auto& _st = (expr);                                 \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.status();   \
  } while (0)

inline std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

// One real Vault per test suite with the seed's base configuration: KV v2
// at secret/ and the policy allow_istiod_secrets (kPolicy). A suite that
// needs more set-up passes it to StartSuite from its own SetUpTestSuite.
class RealVaultSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { StartSuite(); }
  static void TearDownTestSuite() {
    delete vault_;
    vault_ = nullptr;
    delete tls_;
    tls_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  // Starts the suite's Vault, applies the base configuration, then
  // `configure`. A failure is kept for SetUp to report in every test.
  static void StartSuite(absl::Status (*configure)() = nullptr) {
    absl::Status started = StartSuiteVault(&tls_, &vault_);
    if (started.ok()) started = ConfigureBase();
    if (started.ok() && configure != nullptr) started = configure();
    if (!started.ok()) setup_error_ = new std::string(started.ToString());
  }

  static absl::Status ConfigureBase() {
    absl::StatusOr<std::string> policy =
        WriteFileIn(tls_->dir, "policy.hcl", kPolicy);
    if (!policy.ok()) return policy.status();
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=secret", "-version=2", "kv"},
             {"policy", "write", "allow_istiod_secrets", *policy}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) return out.status();
    }
    return absl::OkStatus();
  }

  // Skips when the suite could not start because the Vault binary is
  // missing and VAULTCA_ALLOW_NO_VAULT=1; fails on any other set-up error.
  void SetUp() override {
    if (setup_error_ != nullptr) {
      if (MissingVaultAllowed() &&
          absl::StrContains(*setup_error_, "VAULTCA_VAULT_BIN")) {
        GTEST_SKIP() << *setup_error_;
      }
      FAIL() << *setup_error_;
    }
  }

  vault::VaultConfig Config(const std::string& token = "") const {
    vault::VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token = SecretData(token.empty() ? vault_->root_token() : token);
    config.timeout = absl::Seconds(20);
    config.retry_base_backoff = absl::Milliseconds(50);
    config.retry_max_backoff = absl::Milliseconds(200);
    return config;
  }

  std::unique_ptr<vault::VaultClient> Client(
      const vault::VaultConfig& config) const {
    vault::ClientOptions options;
    options.warn = [](absl::string_view) {};
    auto client = vault::VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Creates a token with the seed's policy and `extra` flags.
  std::string PolicyToken(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"token", "create", "-field=token",
                                     "-policy=allow_istiod_secrets"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::string> token = vault_->Cli(args);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? Trim(*token) : "";
  }

  static inline std::string* setup_error_ = nullptr;
  static inline TestTls* tls_ = nullptr;
  static inline RealVault* vault_ = nullptr;
};

// RealVaultSuite plus the seed's material: KV v1 at kv1/, placeholder
// material at secret/pki/istiod, an unrelated secret/other.
class RealVaultTest : public RealVaultSuite {
 protected:
  static void SetUpTestSuite() { StartSuite(&Configure); }

  static absl::Status Configure() {
    const std::string cert =
        WriteFileIn(tls_->dir, "vault-ca.crt", "-----CERT-----\n").value();
    const std::string key =
        WriteFileIn(tls_->dir, "vault-ca.key", "-----KEY-----\n").value();
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=kv1", "-version=1", "kv"},
             {"kv", "put", "secret/pki/istiod", "privateKey=@" + key,
              "certificate=@" + cert},
             {"kv", "put", "secret/other", "x=y"},
             {"kv", "put", "kv1/pki/istiod", "certificate=v1cert"}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) return out.status();
    }
    return absl::OkStatus();
  }
};


}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_REAL_VAULT_FIXTURE_H_
