// VaultClient against a fake Vault on the wire: KV reads, references,
// health, writes. Auth and token lifecycle are in client_auth_test.cc,
// TLS/retry/redirect behaviour in client_wire_test.cc.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/client.h"
#include "vault/testing/client_fixture.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ClientTest;
using testing::FakeVault;
using testing::KvV1Body;
using testing::KvV2Body;
using testing::kKvPath;
using testing::kRootToken;
using testing::LoginBody;
using testing::LookupSelfBody;
using testing::RecordedRequest;
using testing::Reply;

TEST_F(ClientTest, ReadsKvV2WithVaultHeaders) {
  fake_->SetJson("GET", kKvPath, 200,
                 KvV2Body(R"({"certificate":"CERT","privateKey":"KEY"})", 3));
  VaultConfig config = Config();
  config.vault_namespace = "team-a/";
  auto client = Client(config);
  absl::StatusOr<KvSecret> secret = client->ReadKv("secret/data/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_TRUE(secret->v2);
  EXPECT_EQ(secret->version, 3);
  EXPECT_EQ(secret->Get("privateKey")->view(), "KEY");

  const std::vector<RecordedRequest> requests = fake_->requests();
  ASSERT_FALSE(requests.empty());
  const RecordedRequest& read = requests.back();
  EXPECT_EQ(read.path, kKvPath);
  EXPECT_EQ(read.Header("x-vault-token"), kRootToken);
  EXPECT_EQ(read.Header("x-vault-request"), "true");
  EXPECT_EQ(read.Header("x-vault-namespace"), "team-a/");
  EXPECT_TRUE(read.params.empty());
}

TEST_F(ClientTest, ReadsAVersion) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest& r) {
    Reply reply;
    auto it = r.params.find("version");
    const int v = it == r.params.end() ? 9 : std::stoi(it->second);
    reply.body = KvV2Body(absl::StrCat(R"({"k":"v)", v, R"("})"), v);
    return reply;
  });
  auto client = Client(Config());
  auto secret = client->ReadKv("secret/data/pki/istiod", 2);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->version, 2);
  EXPECT_EQ(secret->Get("k")->view(), "v2");
  EXPECT_EQ(client->ReadKv("/v1/secret/data/pki/istiod")->version, 9);
}

TEST_F(ClientTest, ReadsKvV1) {
  fake_->SetJson("GET", "/v1/kv1/pki/istiod", 200,
                 KvV1Body(R"({"certificate":"C1"})"));
  auto client = Client(Config());
  auto secret = client->ReadKv("kv1/pki/istiod");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_FALSE(secret->v2);
  EXPECT_EQ(secret->Get("certificate")->view(), "C1");
}

TEST_F(ClientTest, ReferencesShareOneRequestPerPathAndVersion) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest& r) {
    Reply reply;
    const bool v1 = r.params.count("version") && r.params.at("version") == "1";
    reply.body = KvV2Body(v1 ? R"({"certificate":"OLD","privateKey":"OLDKEY"})"
                             : R"({"certificate":"NEW","privateKey":"NEWKEY"})",
                          v1 ? 1 : 2);
    return reply;
  });
  auto client = Client(Config());
  std::vector<Reference> refs = {
      *ParseReference("vault:secret/data/pki/istiod#certificate"),
      *ParseReference("vault:secret/data/pki/istiod#privateKey"),
      *ParseReference("vault:secret/data/pki/istiod#certificate#1"),
  };
  auto values = client->ReadReferences(refs);
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0].view(), "NEW");
  EXPECT_EQ((*values)[1].view(), "NEWKEY");
  EXPECT_EQ((*values)[2].view(), "OLD");
  EXPECT_EQ(fake_->Count("GET", kKvPath), 2);

  EXPECT_EQ(client->ReadReference(refs[1])->view(), "NEWKEY");
}

TEST_F(ClientTest, ReferenceErrorsNameTheReference) {
  fake_->SetJson("GET", kKvPath, 200,
                 KvV2Body(R"({"certificate":"C","serial":42})", 1));
  auto client = Client(Config());
  auto missing = client->ReadReferences(
      {*ParseReference("vault:secret/data/pki/istiod#privateKey")});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("vault:secret/data/pki/istiod#privateKey: key "
                        "'privateKey' not found under path"));
  auto not_string = client->ReadReference(
      *ParseReference("vault:secret/data/pki/istiod#serial"));
  EXPECT_EQ(not_string.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_path = client->ReadReference(*ParseReference("vault:secret/data/none#k"));
  EXPECT_EQ(no_path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(no_path.status().message()), HasSubstr("path not found"));
}

TEST_F(ClientTest, DeletedAndDestroyedVersionsOverTheWire) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest& r) {
    Reply reply;
    reply.status = 404;
    const bool destroyed = r.params.at("version") == "2";
    reply.body = absl::StrCat(
        R"({"data":{"data":null,"metadata":{"created_time":"t","deletion_time":")",
        destroyed ? "" : "2024-05-01T10:00:00Z", R"(","destroyed":)",
        destroyed ? "true" : "false", R"(,"version":)", r.params.at("version"),
        "}}}");
    return reply;
  });
  auto client = Client(Config());
  auto deleted = client->ReadKv("secret/data/pki/istiod", 1);
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(deleted.status().message()),
              HasSubstr("version 1 of secret/data/pki/istiod was deleted at "
                        "2024-05-01T10:00:00Z"));
  auto destroyed = client->ReadKv("secret/data/pki/istiod", 2);
  EXPECT_THAT(std::string(destroyed.status().message()),
              HasSubstr("version 2 of secret/data/pki/istiod was destroyed"));
}

TEST_F(ClientTest, HealthMapsEveryDefinedStatusWithoutTokenOrRetry) {
  const std::pair<int, HealthState> cases[] = {
      {200, HealthState::kActive},
      {429, HealthState::kStandby},
      {472, HealthState::kDrSecondary},
      {473, HealthState::kPerformanceStandby},
      {501, HealthState::kUninitialized},
      {503, HealthState::kSealed}};
  auto client = Client(Config());
  for (const auto& [status, state] : cases) {
    fake_->ClearRequests();
    fake_->SetJson("GET", "/v1/sys/health", status,
                   absl::StrCat(R"({"initialized":true,"sealed":)",
                                status == 503 ? "true" : "false",
                                R"(,"standby":false,"version":"1.14.8","cluster_name":"c"})"));
    auto report = client->Health();
    ASSERT_TRUE(report.ok()) << status << ": " << report.status();
    EXPECT_EQ(report->state, state) << status;
    EXPECT_EQ(report->http_status, status);
    EXPECT_EQ(report->version, "1.14.8");
    EXPECT_EQ(report->sealed, status == 503);
    EXPECT_EQ(fake_->Count("GET", "/v1/sys/health"), 1) << status;
    EXPECT_EQ(fake_->requests().back().Header("x-vault-token"), "");
  }
  fake_->SetJson("GET", "/v1/sys/health", 503, "{}");
  EXPECT_EQ(client->Health()->ToStatus().code(), absl::StatusCode::kUnavailable);
  fake_->SetJson("GET", "/v1/sys/health", 501, "{}");
  EXPECT_EQ(client->Health()->ToStatus().code(),
            absl::StatusCode::kFailedPrecondition);
  fake_->SetJson("GET", "/v1/sys/health", 418, "{}");
  EXPECT_FALSE(client->Health().ok());
}

TEST_F(ClientTest, WritePostsJsonAndReturnsBody) {
  fake_->Handle("POST", "/v1/pki/sign/istio", [](const RecordedRequest& r) {
    Reply reply;
    reply.body = absl::StrCat(R"({"data":{"echo":)", r.body, "}}");
    return reply;
  });
  fake_->SetJson("POST", "/v1/secret/data/x", 204, "");
  auto client = Client(Config());
  auto out = client->Write("pki/sign/istio", R"({"csr":"PEM","ttl":"3600s"})");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(std::string(out->view()), HasSubstr(R"("csr":"PEM")"));
  EXPECT_EQ(fake_->requests().back().Header("content-type"), "application/json");
  auto empty = client->Write("secret/data/x", R"({"data":{}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  fake_->SetJson("POST", "/v1/pki/sign/istio", 400,
                 R"({"errors":["common name not allowed"]})");
  auto bad = client->Write("pki/sign/istio", "{}");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("common name not allowed"));
  fake_->SetJson("DELETE", "/v1/secret/data/x", 204, "");
  EXPECT_TRUE(client->Delete("secret/data/x").ok());
}

TEST_F(ClientTest, PathsAreEscaped) {
  auto client = Client(Config());
  fake_->SetJson("GET", "/v1/secret/data/a%3Fb", 200, KvV2Body(R"({"k":"v"})", 1));
  auto secret = client->ReadKv("secret/data/a?b");
  // Whatever the server decodes, the '?' did not become a query.
  EXPECT_TRUE(fake_->requests().back().params.empty());
  (void)secret;
}

TEST_F(ClientTest, ConcurrentReadsShareTheClient) {
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  auto client = Client(Config());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (client->ReadKv("secret/data/pki/istiod").ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 120);
  EXPECT_EQ(client->token_info().logins, 1);
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
