#ifndef VAULTCA_SERVER_INTERNAL_REQUEST_HEADERS_H_
#define VAULTCA_SERVER_INTERNAL_REQUEST_HEADERS_H_

// Checks the request headers gRPC C++ hands over as client metadata.
//
// gRPC core 1.51 passes some malformed HTTP/2 header fields through to the
// application (upper-case or non-token names, control characters in
// values), where istiod's Go stack resets the stream (RFC 9113 section
// 8.2.1). vaultca refuses such a request instead of acting on it.

#include <map>

#include <grpcpp/support/string_ref.h>

#include "absl/status/status.h"

namespace vaultca {
namespace server {
namespace internal {

// OK when every name is a lower-case HTTP token and every value of a
// non-binary header ("-bin" names carry decoded bytes) is free of control
// characters other than HTAB, the rule of Go's net/http (httpguts) that
// istiod's server applies. InvalidArgument otherwise, naming the header
// (escaped, truncated).
absl::Status CheckRequestHeaders(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_REQUEST_HEADERS_H_
