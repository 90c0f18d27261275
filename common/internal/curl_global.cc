#include <curl/curl.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/internal/curl_unique_ptr.h"

namespace vaultca {
namespace internal {

absl::Status EnsureCurlGlobalInit() {
  // A function-local static: C++11 guarantees one initialisation even when
  // several threads arrive at once.
  static const CURLcode result = curl_global_init(CURL_GLOBAL_ALL);
  if (result != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init failed: ",
                                            curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace vaultca
