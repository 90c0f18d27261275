#include "common/log.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/secret_data.h"
#include "common/sync.h"

namespace vaultca {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTesting([this](LogSeverity severity, absl::string_view line) {
      // Called under the logger's lock; our own lock orders after it.
      MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    SetLogSinkForTesting(nullptr);
    SetMinLogSeverity(LogSeverity::kInfo);
  }
  std::vector<std::string> Lines() {
    MutexLock lock(&mu_);
    return lines_;
  }

  Mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(LogTest, FormatsTimeLevelFileAndMessage) {
  VAULTCA_LOG(WARNING) << "refresh failed: " << 42;
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0],
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z W "
                           "log_test\\.cc:[0-9]+\\] refresh failed: 42"));
}

TEST_F(LogTest, DropsBelowMinimumSeverity) {
  SetMinLogSeverity(LogSeverity::kError);
  VAULTCA_LOG(INFO) << "quiet";
  VAULTCA_LOG(ERROR) << "loud";
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr(" E "));
  EXPECT_THAT(lines[0], HasSubstr("loud"));
}

TEST_F(LogTest, DebugIsOffByDefaultAndSkipsItsOperands) {
  int evaluated = 0;
  auto count = [&evaluated] { return ++evaluated; };
  VAULTCA_LOG(DEBUG) << "per request " << count();
  EXPECT_TRUE(Lines().empty());
  EXPECT_EQ(evaluated, 0);
  SetMinLogSeverity(LogSeverity::kDebug);
  VAULTCA_LOG(DEBUG) << "per request " << count();
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_THAT(Lines()[0], HasSubstr(" D "));
  EXPECT_EQ(evaluated, 1);
}

TEST(LogSeverityTest, ParsesNames) {
  LogSeverity severity = LogSeverity::kInfo;
  EXPECT_TRUE(ParseLogSeverity("DEBUG", &severity));
  EXPECT_EQ(severity, LogSeverity::kDebug);
  EXPECT_TRUE(ParseLogSeverity("warning", &severity));
  EXPECT_EQ(severity, LogSeverity::kWarning);
  EXPECT_FALSE(ParseLogSeverity("verbose", &severity));
  EXPECT_EQ(severity, LogSeverity::kWarning);
}

TEST_F(LogTest, RedactsSecrets) {
  SecretData key("-----BEGIN PRIVATE KEY-----secret");
  VAULTCA_LOG(INFO) << "key is " << key;
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("[redacted]"));
  EXPECT_THAT(lines[0], Not(HasSubstr("secret")));
}

TEST_F(LogTest, ConcurrentLinesStayWhole) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        VAULTCA_LOG(INFO) << "thread " << t << " line " << i << " end";
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const std::string& line : lines) {
    EXPECT_THAT(line, MatchesRegex(".*\\] thread [0-9] line [0-9]+ end"));
  }
}

}  // namespace
}  // namespace vaultca
