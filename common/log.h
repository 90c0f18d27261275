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

enum class LogSeverity { kDebug = -1, kInfo = 0, kWarning = 1, kError = 2 };

// Returns "D", "I", "W" or "E".
absl::string_view LogSeverityLetter(LogSeverity severity);

// Drops messages below `severity` (default kInfo).
void SetMinLogSeverity(LogSeverity severity);

// Whether a message of `severity` would be written. VAULTCA_LOG checks it
// first, so a disabled statement costs one relaxed load and formats nothing.
bool LogEnabled(LogSeverity severity);

// Parses "debug", "info", "warning" or "error" (any case).
bool ParseLogSeverity(absl::string_view name, LogSeverity* out);

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

// Turns the streamed expression into void so that VAULTCA_LOG can be the
// second branch of a conditional expression (the glog idiom).
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal
}  // namespace vaultca

#define VAULTCA_LOG_SEVERITY_DEBUG ::vaultca::LogSeverity::kDebug
#define VAULTCA_LOG_SEVERITY_INFO ::vaultca::LogSeverity::kInfo
#define VAULTCA_LOG_SEVERITY_WARNING ::vaultca::LogSeverity::kWarning
#define VAULTCA_LOG_SEVERITY_ERROR ::vaultca::LogSeverity::kError

// VAULTCA_LOG(DEBUG|INFO|WARNING|ERROR) << ...; the operands are not
// evaluated when the severity is disabled.
#define VAULTCA_LOG(severity)                                              \
  !::vaultca::LogEnabled(VAULTCA_LOG_SEVERITY_##severity)                  \
      ? (void)0                                                            \
      : ::vaultca::internal::LogVoidify() &                                \
            ::vaultca::internal::LogMessage(VAULTCA_LOG_SEVERITY_##severity, \
                                            __FILE__, __LINE__)            \
                .stream()

#endif  // VAULTCA_COMMON_LOG_H_
