#ifndef VAULTCA_SERVER_TESTING_LOG_CAPTURE_H_
#define VAULTCA_SERVER_TESTING_LOG_CAPTURE_H_

// Test-only: what the server logs, for tests of details that go to the log
// rather than to the caller (why a caller was refused).

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "common/sync.h"

namespace vaultca {
namespace server {
namespace testing {

// Collects every line logged while it lives (instead of stderr). One at a
// time; lines may come from any thread.
class LogCapture {
 public:
  LogCapture() {
    SetLogSinkForTesting([this](LogSeverity, absl::string_view line) {
      MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogSinkForTesting(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() const {
    MutexLock lock(&mu_);
    return lines_;
  }
  // Every line so far, each ending in a newline.
  std::string text() const {
    std::string all;
    for (const std::string& line : lines()) absl::StrAppend(&all, line, "\n");
    return all;
  }

 private:
  mutable Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_TESTING_LOG_CAPTURE_H_
