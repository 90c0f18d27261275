#ifndef VAULTCA_VAULT_TESTING_CLIENT_FIXTURE_H_
#define VAULTCA_VAULT_TESTING_CLIENT_FIXTURE_H_

// Test-only GoogleTest fixture: a TLS fake Vault with test PKI and a helper
// to build clients against it.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/sync.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace vault {
namespace testing {

inline constexpr char kKvPath[] = "/v1/secret/data/pki/istiod";
inline constexpr char kRootToken[] = "s.root-token-value";

inline std::string LookupSelfBody(int ttl, bool renewable, int creation_ttl = 0) {
  return absl::StrCat(R"({"data":{"ttl":)", ttl, R"(,"creation_ttl":)",
                      creation_ttl, R"(,"renewable":)",
                      renewable ? "true" : "false",
                      R"(,"policies":["root"],"type":"service"}})");
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testkit::TestTls> tls = testkit::MakeTestTls();
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);
    FakeVault::Options options;
    options.cert_pem = tls_.server.cert_pem;
    options.key_pem = tls_.server.key_pem;
    options.client_ca_pem = tls_.ca->cert_pem();
    absl::StatusOr<std::unique_ptr<FakeVault>> fake = FakeVault::Start(options);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    fake_->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                   LookupSelfBody(0, false));
  }

  VaultConfig Config() const {
    VaultConfig config;
    config.address = fake_->address();
    config.tls.ca_cert_file = tls_.ca_file;
    config.auth.token = SecretData(kRootToken);
    config.timeout = absl::Seconds(10);
    config.retry_base_backoff = absl::Milliseconds(1);
    config.retry_max_backoff = absl::Milliseconds(5);
    return config;
  }

  std::unique_ptr<VaultClient> Client(const VaultConfig& config,
                                      ClientOptions options = ClientOptions()) {
    options.warn = [this](absl::string_view w) {
      MutexLock lock(&warnings_mu_);
      warnings_.push_back(std::string(w));
    };
    absl::StatusOr<std::unique_ptr<VaultClient>> client =
        VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    return *testkit::WriteFileIn(tls_.dir, name, content);
  }

  testkit::TestTls tls_;
  std::unique_ptr<FakeVault> fake_;
  Mutex warnings_mu_;
  std::vector<std::string> warnings_ ABSL_GUARDED_BY(warnings_mu_);
};

}  // namespace testing
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_TESTING_CLIENT_FIXTURE_H_
