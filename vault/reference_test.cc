#include "vault/reference.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;

TEST(ReferenceTest, ParsesPathAndKey) {
  absl::StatusOr<Reference> ref =
      ParseReference("vault:secret/data/pki/istiod#certificate");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->path, "secret/data/pki/istiod");
  EXPECT_EQ(ref->key, "certificate");
  EXPECT_EQ(ref->version, 0);
}

TEST(ReferenceTest, ParsesVersion) {
  absl::StatusOr<Reference> ref = ParseReference("vault:secret/data/x#k#7");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->version, 7);
  EXPECT_EQ(ref->ToString(), "vault:secret/data/x#k#7");
}

TEST(ReferenceTest, MinusOneAndZeroMeanLatest) {
  EXPECT_EQ(ParseReference("vault:a/b#k#-1")->version, 0);
  EXPECT_EQ(ParseReference("vault:a/b#k#0")->version, 0);
  EXPECT_EQ(ParseReference("vault:a/b#k#0")->ToString(), "vault:a/b#k");
}

TEST(ReferenceTest, LooksLikeReference) {
  EXPECT_TRUE(LooksLikeReference("vault:x"));
  EXPECT_FALSE(LooksLikeReference("/etc/cacerts/ca-key.pem"));
}

struct BadCase {
  const char* text;
  const char* problem;
};

class BadReferenceTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadReferenceTest, RejectsWithPreciseMessage) {
  absl::StatusOr<Reference> ref = ParseReference(GetParam().text);
  ASSERT_FALSE(ref.ok()) << GetParam().text;
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ref.status().message()),
              HasSubstr(GetParam().problem));
  EXPECT_THAT(std::string(ref.status().message()), HasSubstr(GetParam().text));
}

INSTANTIATE_TEST_SUITE_P(
    All, BadReferenceTest,
    ::testing::Values(
        BadCase{"secret/data/x#k", "missing 'vault:' prefix"},
        BadCase{"vault:secret/data/x", "missing '#KEY'"},
        BadCase{"vault:#k", "empty path"},
        BadCase{"vault:secret/data/x#", "empty key"},
        BadCase{"vault:/secret/data/x#k", "must not start with '/'"},
        BadCase{"vault:secret/data/x/#k", "ends with '/'"},
        BadCase{"vault:secret//x#k", "'//'"},
        BadCase{"vault:secret/../x#k", "'..'"},
        BadCase{"vault:secret/ x#k", "whitespace"},
        BadCase{"vault:secret/x?version=2#k", "'?'"},
        BadCase{"vault:secret/x#k#two", "version 'two' is not an integer"},
        BadCase{"vault:secret/x#k#", "version '' is not an integer"},
        BadCase{"vault:secret/x#k#-2", "negative"},
        BadCase{"vault:secret/x#k#1#2", "too many '#'"}));

}  // namespace
}  // namespace vault
}  // namespace vaultca
