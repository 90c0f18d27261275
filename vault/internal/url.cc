#include "vault/internal/url.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vaultca {
namespace vault {
namespace internal {

std::string Url::HostForUrl() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]");
  return host;
}

std::string Url::Origin() const {
  return absl::StrCat(scheme, "://", HostForUrl(), ":", port);
}

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  Url url;
  const size_t scheme_end = text.find("://");
  if (scheme_end == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "' has no scheme: write https://host:port"));
  }
  url.scheme = absl::AsciiStrToLower(text.substr(0, scheme_end));
  if (url.scheme != "https" && url.scheme != "http") {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' has scheme '", url.scheme,
                     "': only https (or explicitly allowed http) works"));
  }
  absl::string_view rest = text.substr(scheme_end + 3);
  const size_t path_start = rest.find_first_of("/?#");
  absl::string_view authority = rest.substr(0, path_start);
  if (path_start != absl::string_view::npos) {
    url.path = std::string(rest.substr(path_start));
  }
  if (absl::StrContains(authority, "@")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "' carries user info: credentials belong in the "
        "auth configuration, not the address"));
  }
  absl::string_view port_text;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "' has an unclosed '[' in its host"));
    }
    url.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("address '", text, "' has junk after its host"));
      }
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != absl::string_view::npos) {
      url.host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
    } else {
      url.host = std::string(authority);
    }
  }
  if (url.host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' has an empty host"));
  }
  if (port_text.empty()) {
    url.port = url.is_https() ? 443 : 80;
  } else if (!absl::SimpleAtoi(port_text, &url.port) || url.port <= 0 ||
             url.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "' has an invalid port '", port_text, "'"));
  }
  return url;
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
