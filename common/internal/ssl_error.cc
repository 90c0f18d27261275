#include "common/internal/ssl_error.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace vaultca {
namespace internal {

absl::Status SslError(absl::StatusCode code, absl::string_view what) {
  std::string message(what);
  const char* sep = ": ";
  unsigned long err;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    absl::StrAppend(&message, sep, buf);
    sep = "; ";
  }
  return absl::Status(code, message);
}

void ClearSslErrors() { ERR_clear_error(); }

}  // namespace internal
}  // namespace vaultca
