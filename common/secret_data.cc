#include "common/secret_data.h"

#include <openssl/crypto.h>

namespace vaultca {
namespace internal {

void SecureWipe(void* ptr, std::size_t size) {
  if (ptr != nullptr && size > 0) OPENSSL_cleanse(ptr, size);
}

}  // namespace internal

void SecretData::Clear() {
  internal::SecureWipe(bytes_.data(), bytes_.size());
  bytes_.clear();
}

bool SecretEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace vaultca
