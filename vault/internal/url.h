#ifndef VAULTCA_VAULT_INTERNAL_URL_H_
#define VAULTCA_VAULT_INTERNAL_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace vault {
namespace internal {

// The parts of a Vault address or redirect target the client cares about.
struct Url {
  std::string scheme;  // "https" or "http", lower case.
  std::string host;    // Without brackets for IPv6 literals.
  int port = 0;        // Explicit or the scheme's default.
  std::string path;    // Everything from the first '/' on (may be empty).

  bool is_https() const { return scheme == "https"; }
  // Returns host, bracketed when it is an IPv6 literal.
  std::string HostForUrl() const;
  // Returns "scheme://host:port" (no path).
  std::string Origin() const;
};

// Parses an absolute http(s) URL. Returns InvalidArgument saying what is
// wrong for anything else (other schemes, user info, empty host, bad port).
absl::StatusOr<Url> ParseUrl(absl::string_view text);

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_URL_H_
