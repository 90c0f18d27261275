#ifndef VAULTCA_TESTING_REAL_VAULT_FIXTURE_H_
#define VAULTCA_TESTING_REAL_VAULT_FIXTURE_H_

// Test-only GoogleTest fixture: one real Vault per test suite (see
// real_vault.h), configured like the seed (KV v2 at secret/, KV v1 at kv1/,
// the material at secret/pki/istiod, policy allow_istiod_secrets).
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

class RealVaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::Status started = ::vaultca::testkit::StartSuiteVault(&tls_, &vault_);
    if (!started.ok()) {
      setup_error_ = new std::string(started.ToString());
      return;
    }
    absl::Status configured = Configure();
    if (!configured.ok()) setup_error_ = new std::string(configured.ToString());
  }

  static void TearDownTestSuite() {
    delete vault_;
    vault_ = nullptr;
    delete tls_;
    tls_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  // Mounts and material shared by the tests, like the seed's setup.
  static absl::Status Configure() {
    const std::string cert = WriteFileIn(tls_->dir, "vault-ca.crt",
                                                "-----CERT-----\n").value();
    const std::string key = WriteFileIn(tls_->dir, "vault-ca.key",
                                               "-----KEY-----\n").value();
    const std::string policy =
        WriteFileIn(tls_->dir, "policy.hcl", kPolicy).value();
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "-path=secret", "-version=2", "kv"},
             {"secrets", "enable", "-path=kv1", "-version=1", "kv"},
             {"kv", "put", "secret/pki/istiod", "privateKey=@" + key,
              "certificate=@" + cert},
             {"kv", "put", "secret/other", "x=y"},
             {"kv", "put", "kv1/pki/istiod", "certificate=v1cert"},
             {"policy", "write", "allow_istiod_secrets", policy}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) return out.status();
    }
    return absl::OkStatus();
  }

  void SetUp() override {
    if (setup_error_ != nullptr) {
      if (::vaultca::testkit::MissingVaultAllowed() &&
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


}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_REAL_VAULT_FIXTURE_H_
