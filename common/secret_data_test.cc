#include "common/secret_data.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/base/config.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "gtest/gtest.h"

namespace vaultca {
namespace {

// Returns the VmFlags of the mapping holding `p`, "" when none does.
std::string VmFlagsOf(const void* p) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    const size_t dash = line.find('-');
    const size_t space = line.find(' ');
    uint64_t lo = 0, hi = 0;
    if (dash != std::string::npos && space != std::string::npos &&
        dash < space &&
        absl::SimpleHexAtoi(line.substr(0, dash), &lo) &&
        absl::SimpleHexAtoi(line.substr(dash + 1, space - dash - 1), &hi)) {
      inside = lo <= addr && addr < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(SecretDataTest, LargeBuffersAreLeftOutOfCoreDumps) {
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
  GTEST_SKIP() << "ASan builds keep secrets on the checked heap";
#endif
  SecretData secret(std::string(64 * 1024, 'k'));
  const std::string flags = VmFlagsOf(secret.data());
  ASSERT_FALSE(flags.empty());
  EXPECT_NE(flags.find(" dd"), std::string::npos) << flags;
  // Growing past the first buffer moves the bytes to a new one, also
  // excluded; the old one is wiped and unmapped.
  secret.Append(std::string(128 * 1024, 'k'));
  EXPECT_NE(VmFlagsOf(secret.data()).find(" dd"), std::string::npos);
  EXPECT_EQ(secret.size(), 192u * 1024);
  EXPECT_EQ(secret.view().back(), 'k');
}

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
