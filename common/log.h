#ifndef VAULTCA_COMMON_LOG_H_
#define VAULTCA_COMMON_LOG_H_

// A deliberately tiny logger: VAULTCA_LOG(INFO) << "text"; writes one line
//   2024-05-01T12:00:00.123456Z I file.cc:42] text
// to stderr when the statement ends. Thread-safe: lines never interleave.
// Never stream secrets; SecretData prints as "[redacted]" anyway.

#include <functional>
#include <sstream>

#include "absl/strings/string_view.h"

namespace vaultca {

enum class LogSeverity { kInfo = 0, kWarning = 1, kError = 2 };

// Returns "I", "W" or "E".
absl::string_view LogSeverityLetter(LogSeverity severity);

// Drops messages below `severity` (default kInfo).
void SetMinLogSeverity(LogSeverity severity);

// Receives each formatted line (without the trailing newline) instead of
// stderr. For tests that check what was logged; pass nullptr to restore
// stderr. Called under the logger's lock: the sink must not log.
using LogSink = std::function<void(LogSeverity, absl::string_view line)>;
void SetLogSinkForTesting(LogSink sink);

namespace internal {

// One log statement; emits its line when destroyed.
class LogMessage {
 public:
  LogMessage(LogSeverity severity, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace vaultca

#define VAULTCA_LOG_SEVERITY_INFO ::vaultca::LogSeverity::kInfo
#define VAULTCA_LOG_SEVERITY_WARNING ::vaultca::LogSeverity::kWarning
#define VAULTCA_LOG_SEVERITY_ERROR ::vaultca::LogSeverity::kError

// VAULTCA_LOG(INFO|WARNING|ERROR) << ...;
#define VAULTCA_LOG(severity)                                            \
  ::vaultca::internal::LogMessage(VAULTCA_LOG_SEVERITY_##severity, __FILE__, \
                                  __LINE__)                              \
      .stream()

#endif  // VAULTCA_COMMON_LOG_H_
