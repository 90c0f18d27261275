#include "server/auth/kube_names.h"


#include "absl/strings/str_split.h"

namespace vaultca {
namespace server {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// The label grammar without its length limit: Kubernetes checks only the
// whole subdomain's length, not each label's.
bool IsLabelShaped(absl::string_view label) {
  if (label.empty() || !IsLowerAlnum(label.front()) ||
      !IsLowerAlnum(label.back())) {
    return false;
  }
  for (char c : label) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

}  // namespace

bool IsDns1123Label(absl::string_view name) {
  return name.size() <= kDns1123LabelMaxLength && IsLabelShaped(name);
}

bool IsDns1123Subdomain(absl::string_view name) {
  if (name.empty() || name.size() > kDns1123SubdomainMaxLength) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (!IsLabelShaped(label)) return false;
  }
  return true;
}

std::string EscapePathSegment(absl::string_view segment) {
  if (segment == ".") return "%2E";
  if (segment == "..") return "%2E%2E";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    if (IsUnreserved(c)) {
      out.push_back(c);
      continue;
    }
    const unsigned char byte = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xF]);
  }
  return out;
}

}  // namespace server
}  // namespace vaultca
