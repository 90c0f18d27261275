#include "server/internal/config_parse.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text,
                     absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(
      what, "='", text, "' is invalid: expected ", expected));
}

}  // namespace

absl::StatusOr<bool> ParseBoolValue(absl::string_view what,
                                    absl::string_view text) {
  for (absl::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == t) return true;
  }
  for (absl::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == f) return false;
  }
  return Invalid(what, text, "true or false");
}

absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view what,
                                                  absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(absl::StripAsciiWhitespace(text), &d) ||
      d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Invalid(what, text, "a duration such as 90s, 30m, 24h or 2160h");
  }
  return d;
}

absl::StatusOr<ca::TtlMode> ParseTtlMode(absl::string_view what,
                                         absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "istiod" || lower == "reject") return ca::TtlMode::kIstiod;
  if (lower == "clamp") return ca::TtlMode::kClamp;
  return Invalid(what, text, "istiod (refuse above the maximum) or clamp");
}

absl::StatusOr<ca::StartupPolicy> ParseStartupPolicy(absl::string_view what,
                                                     absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "keep-trying") return ca::StartupPolicy::kKeepTrying;
  if (lower == "fail") return ca::StartupPolicy::kFailAfterDeadline;
  return Invalid(what, text,
                 "keep-trying (listen not ready until material arrives) or "
                 "fail (exit after startup_deadline)");
}

absl::StatusOr<IdentityPolicy> ParseIdentityPolicy(absl::string_view what,
                                                   absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "istiod") return IdentityPolicy::kIstiod;
  if (lower == "strict") return IdentityPolicy::kStrict;
  return Invalid(what, text, "istiod or strict");
}

std::vector<std::string> SplitList(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
