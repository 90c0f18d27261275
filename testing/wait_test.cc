#include "testing/wait.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace vaultca {
namespace testkit {
namespace {

TEST(WaitForTest, ReturnsOnceTheConditionHolds) {
  std::atomic<bool> flag{false};
  std::thread setter([&] {
    absl::SleepFor(absl::Milliseconds(20));
    flag = true;
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(WaitFor([&] { return flag.load(); }, absl::Seconds(30)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  setter.join();
}

TEST(WaitForTest, GivesUpAfterTheTimeout) {
  int calls = 0;
  const absl::Time start = absl::Now();
  EXPECT_FALSE(WaitFor([&] { return ++calls < 0; }, absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_GT(calls, 1);
}

}  // namespace
}  // namespace testkit
}  // namespace vaultca
