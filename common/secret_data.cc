#include "common/secret_data.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

#include "absl/base/config.h"

namespace vaultca {
namespace internal {

namespace {

bool UsesOwnPages(std::size_t size) {
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
  (void)size;
  return false;
#else
  return size >= kDontDumpMinBytes;
#endif
}

std::size_t RoundToPages(std::size_t size) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}

}  // namespace

void SecureWipe(void* ptr, std::size_t size) {
  if (ptr != nullptr && size > 0) OPENSSL_cleanse(ptr, size);
}

void* AllocateSecret(std::size_t size) {
  if (!UsesOwnPages(size)) return ::operator new(size);
  const std::size_t length = RoundToPages(size);
  void* pages = mmap(nullptr, length, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED) std::abort();
  // Best effort: kernels before 3.4 lack the flag, and the secret is still
  // wiped on release.
  madvise(pages, length, MADV_DONTDUMP);
  return pages;
}

void FreeSecret(void* ptr, std::size_t size) noexcept {
  if (ptr == nullptr) return;
  SecureWipe(ptr, size);
  if (!UsesOwnPages(size)) {
    ::operator delete(ptr);
    return;
  }
  munmap(ptr, RoundToPages(size));
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
