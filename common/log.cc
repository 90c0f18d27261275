#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/sync.h"

namespace vaultca {
namespace {

std::atomic<int> min_severity{static_cast<int>(LogSeverity::kInfo)};

struct LoggerState {
  Mutex mu;
  LogSink sink ABSL_GUARDED_BY(mu);
};

LoggerState& State() {
  // Leaked on purpose: logging must keep working during static destruction.
  static LoggerState* const state = new LoggerState();
  return *state;
}

// Strips the directories so lines stay short; the file name is enough.
absl::string_view BaseName(const char* file) {
  absl::string_view path(file);
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

absl::string_view LogSeverityLetter(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kDebug:
      return "D";
    case LogSeverity::kInfo:
      return "I";
    case LogSeverity::kWarning:
      return "W";
    case LogSeverity::kError:
      return "E";
  }
  return "?";
}

void SetMinLogSeverity(LogSeverity severity) {
  min_severity.store(static_cast<int>(severity), std::memory_order_relaxed);
}

bool LogEnabled(LogSeverity severity) {
  return static_cast<int>(severity) >=
         min_severity.load(std::memory_order_relaxed);
}

bool ParseLogSeverity(absl::string_view name, LogSeverity* out) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") {
    *out = LogSeverity::kDebug;
  } else if (lower == "info") {
    *out = LogSeverity::kInfo;
  } else if (lower == "warning" || lower == "warn") {
    *out = LogSeverity::kWarning;
  } else if (lower == "error") {
    *out = LogSeverity::kError;
  } else {
    return false;
  }
  return true;
}

void SetLogSinkForTesting(LogSink sink) {
  LoggerState& state = State();
  MutexLock lock(&state.mu);
  state.sink = std::move(sink);
}

namespace internal {

LogMessage::LogMessage(LogSeverity severity, const char* file, int line)
    : severity_(severity) {
  stream_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                              absl::UTCTimeZone())
          << ' ' << LogSeverityLetter(severity) << ' ' << BaseName(file)
          << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  std::string text = stream_.str();
  LoggerState& state = State();
  MutexLock lock(&state.mu);
  if (state.sink) {
    state.sink(severity_, text);
    return;
  }
  text.push_back('\n');
  // One write per line so concurrent processes sharing stderr do not
  // interleave within a line either.
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written <= 0) break;
    data += written;
    left -= static_cast<size_t>(written);
  }
}

}  // namespace internal
}  // namespace vaultca
