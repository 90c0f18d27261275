#include "common/secret_data.h"

#include <sstream>

#include "gtest/gtest.h"

namespace vaultca {
namespace {

TEST(SecretDataTest, HoldsBytes) {
  SecretData secret("s.hunter2");
  EXPECT_EQ(secret.view(), "s.hunter2");
  EXPECT_EQ(secret.size(), 9u);
  secret.Append("!");
  EXPECT_EQ(secret.view(), "s.hunter2!");
}

TEST(SecretDataTest, ClearEmpties) {
  SecretData secret("token");
  secret.Clear();
  EXPECT_TRUE(secret.empty());
}

TEST(SecretDataTest, StreamingRedacts) {
  std::ostringstream out;
  out << SecretData("s.hunter2");
  EXPECT_EQ(out.str(), "[redacted]");
}

TEST(SecretDataTest, SecretEqualsComparesContentAndLength) {
  EXPECT_TRUE(SecretEquals(SecretData("abc"), SecretData("abc")));
  EXPECT_FALSE(SecretEquals(SecretData("abc"), SecretData("abd")));
  EXPECT_FALSE(SecretEquals(SecretData("abc"), SecretData("abcd")));
  EXPECT_TRUE(SecretEquals(SecretData(), SecretData()));
}

TEST(SecretDataTest, WipeOverwritesBuffer) {
  char buf[8] = {'s', 'e', 'c', 'r', 'e', 't', '!', '!'};
  internal::SecureWipe(buf, sizeof(buf));
  for (char c : buf) EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace vaultca
