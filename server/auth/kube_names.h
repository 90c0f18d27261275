#ifndef VAULTCA_SERVER_AUTH_KUBE_NAMES_H_
#define VAULTCA_SERVER_AUTH_KUBE_NAMES_H_

// Kubernetes object names as the API server validates them
// (k8s.io/apimachinery/pkg/util/validation), and their safe use in API
// paths.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace server {

inline constexpr size_t kDns1123LabelMaxLength = 63;
inline constexpr size_t kDns1123SubdomainMaxLength = 253;

// True for an RFC 1123 label as Kubernetes accepts it: 1 to 63 characters of
// [a-z0-9-], starting and ending with [a-z0-9]. Namespace names are labels.
bool IsDns1123Label(absl::string_view name);

// True for an RFC 1123 subdomain as Kubernetes accepts it: at most 253
// characters, dot-separated non-empty labels of [a-z0-9-] that start and end
// with [a-z0-9]. Service-account and pod names are subdomains.
bool IsDns1123Subdomain(absl::string_view name);

// Returns `segment` ready to be one segment of a URL path: every byte
// outside RFC 3986's unreserved set (ALPHA DIGIT - . _ ~) is percent-encoded
// (upper-case hex), so '/', '%', '?', '#' and non-ASCII cannot change the
// path's shape. "." and ".." are encoded whole ("%2E", "%2E%2E") so they are
// never dot-segments a client or proxy would collapse. An empty segment
// stays empty: validate names (IsDns1123Subdomain) before building paths.
std::string EscapePathSegment(absl::string_view segment);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_KUBE_NAMES_H_
