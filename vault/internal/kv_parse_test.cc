#include "vault/internal/kv_parse.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

using ::testing::HasSubstr;

constexpr char kPath[] = "secret/data/pki/istiod";

TEST(KvParseTest, V2) {
  auto s = ParseKvResponse(kPath, 0, 200, R"({"data":{"data":{"certificate":"C","privateKey":"K","n":3},
      "metadata":{"created_time":"t","deletion_time":"","destroyed":false,"version":4}}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->v2);
  EXPECT_EQ(s->version, 4);
  EXPECT_EQ(s->Get("certificate")->view(), "C");
  EXPECT_EQ(s->Get("privateKey")->view(), "K");
  EXPECT_EQ(s->Get("n").status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = s->Get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("key 'nope' not found under path"));
}

TEST(KvParseTest, V1IsTheTopLevelDataMap) {
  auto s = ParseKvResponse("secret/pki/istiod", 0, 200,
                           R"({"lease_duration":2764800,"data":{"certificate":"C"}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->v2);
  EXPECT_EQ(s->Get("certificate")->view(), "C");
}

TEST(KvParseTest, V1SecretWithKeysNamedDataIsStillV1) {
  // Only data.data AND data.metadata mean v2.
  auto s = ParseKvResponse("secret/x", 0, 200, R"({"data":{"data":"d"}})");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->v2);
  EXPECT_EQ(s->Get("data")->view(), "d");
}

TEST(KvParseTest, DeletedVersion) {
  auto s = ParseKvResponse(kPath, 3, 404, R"({"data":{"data":null,"metadata":{
      "deletion_time":"2024-05-01T10:00:00Z","destroyed":false,"version":3}}})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("version 3 of secret/data/pki/istiod was deleted at "
                        "2024-05-01T10:00:00Z"));
}

TEST(KvParseTest, DestroyedVersion) {
  auto s = ParseKvResponse(kPath, 2, 404, R"({"data":{"data":null,"metadata":{
      "deletion_time":"","destroyed":true,"version":2}}})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("version 2 of secret/data/pki/istiod was destroyed"));
  EXPECT_THAT(std::string(s.status().message()), ::testing::Not(HasSubstr("deleted")));
}

TEST(KvParseTest, MissingPath) {
  for (const char* body : {R"({"errors":[]})", "", "garbage", R"({"data":null})"}) {
    auto s = ParseKvResponse(kPath, 0, 404, body);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("path not found"));
  }
}

TEST(KvParseTest, GarbageOn200IsInternal) {
  for (const char* body : {"", "<html>", "[1,2]", R"({"data":"x"})"}) {
    auto s = ParseKvResponse(kPath, 0, 200, body);
    ASSERT_FALSE(s.ok()) << body;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInternal) << body;
  }
}

TEST(KvParseTest, OtherStatusesAreMapped) {
  auto s = ParseKvResponse(kPath, 0, 403, R"({"errors":["permission denied"]})");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("permission denied"));
  s = ParseKvResponse(kPath, 0, 503, R"({"errors":["Vault is sealed"]})");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace internal
}  // namespace vault
}  // namespace vaultca
