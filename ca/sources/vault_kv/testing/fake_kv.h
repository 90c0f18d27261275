#ifndef VAULTCA_CA_SOURCES_VAULT_KV_TESTING_FAKE_KV_H_
#define VAULTCA_CA_SOURCES_VAULT_KV_TESTING_FAKE_KV_H_

// A KV v2 secret at secret/data/pki/istiod in a fake Vault on the wire,
// rewritten by tests as `vault kv put` would.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"
#include "common/sync.h"
#include "nlohmann/json.hpp"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace ca {
namespace testing {

using vault::testing::FakeVault;
using vault::testing::KvV2Body;
using vault::testing::RecordedRequest;
using vault::testing::Reply;

inline constexpr char kToken[] = "s.test-token";
inline constexpr char kPath[] = "secret/data/pki/istiod";
inline constexpr char kApiPath[] = "/v1/secret/data/pki/istiod";

// A KV v2 secret in a fake Vault that tests rewrite, as `vault kv put`
// would: each Put is a new version; reads may pin one.
class FakeKv {
 public:
  FakeKv() {
    auto fake = FakeVault::Start(FakeVault::Options());  // Plain HTTP.
    EXPECT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    fake_->RequireToken(kToken);
    // Token auth validates the token once with lookup-self.
    fake_->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                   R"({"data":{"ttl":0,"renewable":false,"policies":["root"],)"
                   R"("type":"service"}})");
    fake_->Handle("GET", kApiPath, [this](const RecordedRequest& request) {
      MutexLock lock(&mu_);
      if (down_) return Reply{503, R"({"errors":["Vault is sealed"]})"};
      int version = static_cast<int>(versions_.size());
      auto it = request.params.find("version");
      if (it != request.params.end() && it->second != "0") {
        version = std::stoi(it->second);
      }
      if (version < 1 || version > static_cast<int>(versions_.size())) {
        return Reply{404, R"({"errors":[]})"};
      }
      return Reply{200, KvV2Body(versions_[version - 1], version)};
    });
  }

  // Stores `values` as a new version; returns its number.
  int Put(const std::map<std::string, std::string>& values) {
    nlohmann::json data = nlohmann::json::object();
    for (const auto& [key, value] : values) data[key] = value;
    MutexLock lock(&mu_);
    versions_.push_back(data.dump());
    return static_cast<int>(versions_.size());
  }
  // The seed's `vault kv put secret/pki/istiod privateKey=@ca.key
  // certificate=@ca.crt`, plus optional chain and root keys.
  int PutMaterial(const CaMaterialPem& m, bool with_chain_and_root) {
    std::map<std::string, std::string> values = {
        {"certificate", m.cert_pem}, {"privateKey", std::string(m.key_pem.view())}};
    if (with_chain_and_root) {
      values["certChain"] = m.chain_pem;
      values["rootCert"] = m.root_bundle_pem;
    }
    return Put(values);
  }
  void SetDown(bool down) {
    MutexLock lock(&mu_);
    down_ = down;
  }

  std::shared_ptr<vault::VaultClient> NewClient() {
    vault::VaultConfig config;
    config.address = fake_->address();
    config.allow_plaintext_http = true;
    config.auth.token = SecretData(kToken);
    config.timeout = absl::Seconds(5);
    config.max_retries = 0;
    vault::ClientOptions options;
    options.background_renewal = false;
    options.warn = [](absl::string_view) {};
    auto client = vault::VaultClient::New(config, options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::shared_ptr<vault::VaultClient>(*std::move(client))
                       : nullptr;
  }

  FakeVault& fake() { return *fake_; }

 private:
  std::unique_ptr<FakeVault> fake_;
  Mutex mu_;
  std::vector<std::string> versions_ ABSL_GUARDED_BY(mu_);
  bool down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_VAULT_KV_TESTING_FAKE_KV_H_
