#include "common/internal/https_request.h"

#include <curl/curl.h>

#include "absl/strings/str_cat.h"
#include "common/internal/curl_unique_ptr.h"

namespace vaultca {
namespace internal {
namespace {

struct Sink {
  std::string* body;
  size_t limit;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (sink->body->size() + n > sink->limit) {
    sink->too_large = true;
    return 0;  // Makes curl fail the transfer with CURLE_WRITE_ERROR.
  }
  sink->body->append(data, n);
  return n;
}

}  // namespace

absl::StatusOr<HttpsResponse> HttpsRequest(
    const char* method, const std::string& url,
    absl::Span<const std::string> headers, const absl::string_view* body,
    const HttpsRequestOptions& options) {
  if (absl::Status s = EnsureCurlGlobalInit(); !s.ok()) return s;
  CurlUniquePtr<CURL> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  CurlUniquePtr<curl_slist> header_list;
  for (const std::string& line : headers) {
    curl_slist* appended = curl_slist_append(header_list.get(), line.c_str());
    if (appended == nullptr) return absl::ResourceExhaustedError("out of memory");
    header_list.release();
    header_list.reset(appended);
  }

  HttpsResponse response;
  Sink sink{&response.body, options.max_response_bytes};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  // Redirects are not followed: a control-plane answer that moves is an
  // operator error worth seeing, not something to chase silently.
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  if (!options.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.timeout)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  const CURLcode rc = curl_easy_perform(h);
  if (sink.too_large) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url, ": response larger than ",
                     options.max_response_bytes, " bytes"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url, " failed: ", curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.http_status);
  return response;
}

}  // namespace internal
}  // namespace vaultca
