#include "common/testing/fuzz_input.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace fuzzing {
namespace {

TEST(FuzzInputTest, ReadsBackWhatTheWriterWrote) {
  FuzzInputWriter w;
  w.Field("csr").Uint(0x1122334455667788ULL, 8).Field("").Field("x");
  FuzzInput in(w.data());
  EXPECT_EQ(in.Field(), "csr");
  EXPECT_EQ(in.Uint(8), 0x1122334455667788ULL);
  EXPECT_EQ(in.Field(), "");
  EXPECT_EQ(in.Field(), "x");
  EXPECT_TRUE(in.Rest().empty());
}

TEST(FuzzInputTest, ShortInputsReadAsWhatIsLeft) {
  // Length 0x0100 but only two bytes follow.
  FuzzInput in(absl::string_view("\x00\x01" "ab", 4));
  EXPECT_EQ(in.Field(), "ab");
  EXPECT_EQ(in.Field(), "");
  EXPECT_EQ(in.Uint(4), 0u);
  FuzzInput one(absl::string_view("\x05", 1));
  EXPECT_EQ(one.Uint(2), 5u);
}

}  // namespace
}  // namespace fuzzing
}  // namespace vaultca
