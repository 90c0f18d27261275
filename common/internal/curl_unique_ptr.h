#ifndef VAULTCA_COMMON_INTERNAL_CURL_UNIQUE_PTR_H_
#define VAULTCA_COMMON_INTERNAL_CURL_UNIQUE_PTR_H_

// One owning smart pointer for every libcurl handle vaultca uses (the Vault
// client, the Kubernetes API client, JWKS fetches). Internal: public headers
// never include curl.

#include <curl/curl.h>

#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "common/secret_data.h"

namespace vaultca {
namespace internal {

template <typename T>
struct CurlDeleter;

template <>
struct CurlDeleter<CURL> {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};

// Header lists carry tokens (Vault, Kubernetes): wipe every entry before
// freeing.
template <>
struct CurlDeleter<curl_slist> {
  void operator()(curl_slist* list) const {
    for (curl_slist* node = list; node != nullptr; node = node->next) {
      if (node->data != nullptr) {
        SecureWipe(node->data, std::strlen(node->data));
      }
    }
    curl_slist_free_all(list);
  }
};

template <typename T>
using CurlUniquePtr = std::unique_ptr<T, CurlDeleter<T>>;

// CURLM is, like CURL, a typedef of void, so it gets its own deleter rather
// than a CurlDeleter specialisation. Remove every easy handle first.
struct CurlMultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
using CurlMultiUniquePtr = std::unique_ptr<CURLM, CurlMultiDeleter>;

// Runs curl_global_init exactly once per process (it is not thread-safe
// itself) and returns its result every time after.
absl::Status EnsureCurlGlobalInit();

}  // namespace internal
}  // namespace vaultca

#endif  // VAULTCA_COMMON_INTERNAL_CURL_UNIQUE_PTR_H_
