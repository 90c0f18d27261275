#include "server/auth/internal/token_precheck.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using Json = nlohmann::json;

// 9999-12-31T23:59:59Z. Larger "exp" values are not valid NumericDates for
// the API server (which reads them as 64-bit seconds), so they cannot pass.
constexpr double kMaxExpSeconds = 253402300799.0;

absl::Status Refuse(absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat("bearer token refused before TokenReview: ", why));
}

bool IsBase64Url(absl::string_view part) {
  return !part.empty() &&
         std::all_of(part.begin(), part.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

bool AudienceAccepted(const Json& aud,
                      const std::vector<std::string>& audiences) {
  auto accepted = [&audiences](const Json& one) {
    return one.is_string() &&
           std::find(audiences.begin(), audiences.end(),
                     one.get_ref<const std::string&>()) != audiences.end();
  };
  if (aud.is_string()) return accepted(aud);
  if (aud.is_array()) return std::any_of(aud.begin(), aud.end(), accepted);
  return false;
}

}  // namespace

absl::StatusOr<absl::Time> PrecheckToken(
    absl::string_view token, absl::Time now,
    const std::vector<std::string>& audiences) {
  if (token.size() > kMaxReviewedTokenBytes) {
    return Refuse(absl::StrCat("larger than ", kMaxReviewedTokenBytes,
                               " bytes"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string header, payload;
  if (parts.size() != 3 || !IsBase64Url(parts[0]) || !IsBase64Url(parts[1]) ||
      !IsBase64Url(parts[2]) || !absl::WebSafeBase64Unescape(parts[0], &header) ||
      !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return Refuse("not a JWT (three unpadded base64url parts)");
  }
  const Json claims = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return Refuse("the payload is not a JSON object");

  auto exp = claims.find("exp");
  if (exp == claims.end()) return Refuse("no \"exp\" claim");
  if (!exp->is_number()) return Refuse("\"exp\" is not a number");
  const double seconds = exp->get<double>();
  // Checked before any conversion, so no NaN, infinity or 1e300 reaches
  // the time arithmetic.
  if (!std::isfinite(seconds) || std::fabs(seconds) > kMaxExpSeconds) {
    return Refuse("\"exp\" is out of range");
  }
  const absl::Time expiry = absl::UnixEpoch() + absl::Seconds(seconds);
  if (expiry <= now) {
    return Refuse(absl::StrCat("expired at ",
                               absl::FormatTime(absl::RFC3339_sec, expiry,
                                                absl::UTCTimeZone())));
  }

  auto aud = claims.find("aud");
  if (aud != claims.end() && !AudienceAccepted(*aud, audiences)) {
    return Refuse(absl::StrCat("its audiences (\"aud\") include none of [",
                               absl::StrJoin(audiences, ", "), "]"));
  }
  return expiry;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
