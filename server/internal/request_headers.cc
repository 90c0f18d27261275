#include "server/internal/request_headers.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

// RFC 9110 section 5.6.2 tchar, without upper-case letters (RFC 9113
// section 8.2.1: names are lower case on HTTP/2).
bool IsNameChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
         absl::string_view::npos;
}

bool IsValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// Untrusted bytes in a message: escaped and short.
std::string Quote(absl::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = absl::CHexEscape(s.substr(0, kMax));
  if (s.size() > kMax) absl::StrAppend(&out, "...");
  return absl::StrCat("\"", out, "\"");
}

}  // namespace

absl::Status CheckRequestHeaders(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  for (const auto& [name_ref, value_ref] : metadata) {
    const absl::string_view name(name_ref.data(), name_ref.size());
    const absl::string_view value(value_ref.data(), value_ref.size());
    bool name_ok = !name.empty();
    for (unsigned char c : name) name_ok = name_ok && IsNameChar(c);
    if (!name_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request header name ", Quote(name),
          " is not a lower-case HTTP token (RFC 9113 section 8.2.1)"));
    }
    if (absl::EndsWith(name, "-bin")) continue;
    for (unsigned char c : value) {
      if (!IsValueChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "request header ", Quote(name),
            " has a control character in its value"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
