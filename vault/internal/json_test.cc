#include "vault/internal/json.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

TEST(JsonTest, GarbageIsRejectedWithoutThrowing) {
  for (const char* text : {"", "{", "not json", "{\"a\":}", "[1,2", "\xff\xfe"}) {
    EXPECT_FALSE(ParseJson(text).has_value()) << text;
  }
}

TEST(JsonTest, TypedMembers) {
  auto j = ParseJson(R"({"s":"x","i":42,"u":"17","b":true,"n":null,"o":{}})");
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(StringMember(*j, "s"), "x");
  EXPECT_EQ(SecretMember(*j, "s")->view(), "x");
  EXPECT_EQ(IntMember(*j, "i"), 42);
  EXPECT_EQ(IntMember(*j, "u"), 17);
  EXPECT_EQ(BoolMember(*j, "b"), true);
  // Wrong types and absent members are nullopt, never an exception.
  EXPECT_FALSE(StringMember(*j, "i").has_value());
  EXPECT_FALSE(IntMember(*j, "s").has_value());
  EXPECT_FALSE(BoolMember(*j, "n").has_value());
  EXPECT_FALSE(StringMember(*j, "missing").has_value());
  EXPECT_EQ(Member(*j, "o")->is_object(), true);
  auto arr = ParseJson("[1]");
  EXPECT_EQ(Member(*arr, "x"), nullptr);
}

TEST(JsonTest, EscapingRoundTrips) {
  const std::string tricky = std::string("q\"b\\n\nt\tc\x01 \xc3\xa9", 14);
  std::string out;
  AppendJsonString(tricky, &out);
  auto j = ParseJson("{\"k\":" + out + "}");
  ASSERT_TRUE(j.has_value()) << out;
  EXPECT_EQ(StringMember(*j, "k"), tricky);
  SecretData secret_out;
  AppendJsonString(tricky, &secret_out);
  EXPECT_EQ(secret_out.view(), out);
}

}  // namespace
}  // namespace internal
}  // namespace vault
}  // namespace vaultca
