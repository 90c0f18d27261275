#include "vault/reference.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vaultca {
namespace vault {
namespace {

constexpr absl::string_view kPrefix = "vault:";

absl::Status RefError(absl::string_view text, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid Vault reference '", text, "': ", problem,
      " (expected vault:PATH#KEY[#VERSION], e.g. "
      "vault:secret/data/pki/istiod#certificate)"));
}

}  // namespace

std::string Reference::ToString() const {
  std::string out = absl::StrCat(kPrefix, path, "#", key);
  if (version > 0) absl::StrAppend(&out, "#", version);
  return out;
}

bool LooksLikeReference(absl::string_view text) {
  return absl::StartsWith(text, kPrefix);
}

absl::StatusOr<Reference> ParseReference(absl::string_view text) {
  if (!LooksLikeReference(text)) return RefError(text, "missing 'vault:' prefix");
  const std::vector<absl::string_view> parts =
      absl::StrSplit(text.substr(kPrefix.size()), '#');
  if (parts.size() < 2) return RefError(text, "missing '#KEY' after the path");
  if (parts.size() > 3) {
    return RefError(text, "too many '#' segments; keys may not contain '#'");
  }
  Reference ref;
  absl::string_view path = parts[0];
  if (path.empty()) return RefError(text, "empty path");
  if (absl::StartsWith(path, "/")) {
    return RefError(text, "path must not start with '/' (write secret/..., "
                          "not /secret/... or /v1/secret/...)");
  }
  if (absl::EndsWith(path, "/")) return RefError(text, "path ends with '/'");
  for (char c : path) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return RefError(text, "path contains whitespace or control characters");
    }
    if (c == '?' || c == '%') {
      return RefError(text, "path contains '?' or '%'; give the version as "
                            "#VERSION after the key");
    }
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty()) return RefError(text, "path contains '//'");
    if (segment == "." || segment == "..") {
      return RefError(text, "path contains a '.' or '..' segment");
    }
  }
  ref.path = std::string(path);
  if (parts[1].empty()) return RefError(text, "empty key after '#'");
  ref.key = std::string(parts[1]);
  if (parts.size() == 3) {
    int64_t version;
    if (parts[2].empty() || !absl::SimpleAtoi(parts[2], &version)) {
      return RefError(text, absl::StrCat("version '", parts[2],
                                         "' is not an integer"));
    }
    if (version < -1) {
      return RefError(text, absl::StrCat("version ", version,
                                         " is negative (use -1 or 0 for "
                                         "the latest version)"));
    }
    ref.version = version < 0 ? 0 : version;
  }
  return ref;
}

}  // namespace vault
}  // namespace vaultca
