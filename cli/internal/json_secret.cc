#include "cli/internal/json_secret.h"

#include <cstdio>

namespace vaultca {
namespace cli {
namespace internal {

void AppendJsonString(absl::string_view value, SecretData* out) {
  out->Append("\"");
  size_t run = 0;  // Start of the pending run of plain characters.
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const char* escape = nullptr;
    char hex[8];
    switch (c) {
      case '"': escape = "\\\""; break;
      case '\\': escape = "\\\\"; break;
      case '\n': escape = "\\n"; break;
      case '\r': escape = "\\r"; break;
      case '\t': escape = "\\t"; break;
      default:
        if (c < 0x20) {
          std::snprintf(hex, sizeof(hex), "\\u%04x", c);
          escape = hex;
        }
    }
    if (escape != nullptr) {
      out->Append(value.substr(run, i - run));
      out->Append(escape);
      run = i + 1;
    }
  }
  out->Append(value.substr(run));
  out->Append("\"");
}

}  // namespace internal
}  // namespace cli
}  // namespace vaultca
