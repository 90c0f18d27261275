#ifndef VAULTCA_COMMON_SECRET_DATA_H_
#define VAULTCA_COMMON_SECRET_DATA_H_

#include <cstddef>
#include <limits>
#include <new>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace internal {

// Overwrites `size` bytes at `ptr` in a way the compiler cannot elide.
void SecureWipe(void* ptr, std::size_t size);

// Buffers of at least this many bytes get pages of their own, marked
// MADV_DONTDUMP. Smaller ones stay on the heap: the flag applies to whole
// pages, so marking a malloc'd buffer would also hide its neighbours and
// stay on the page after the buffer is freed, and a page per small secret
// (a token: tens of bytes, allocated per request) would cost a syscall and
// a page fault each time. Core dumps are off for the whole process anyway
// (vaultca-server sets RLIMIT_CORE 0 and PR_SET_DUMPABLE 0); this keeps the
// bulky secrets (Vault responses carrying a CA key, PEM bundles) out of a
// dump someone re-enables for debugging.
inline constexpr std::size_t kDontDumpMinBytes = 4096;

// Returns `size` bytes for a secret: fresh pages excluded from core dumps
// when size >= kDontDumpMinBytes (except in ASan builds, which keep every
// buffer on the checked heap), else heap memory. Aborts when out of memory,
// as operator new would.
void* AllocateSecret(std::size_t size);
// Wipes and releases a buffer from AllocateSecret(size).
void FreeSecret(void* ptr, std::size_t size) noexcept;

// An allocator that wipes every buffer before giving it back, so key bytes
// and tokens do not linger in freed memory; large buffers are also left out
// of core dumps (see AllocateSecret).
template <typename T>
struct SanitizingAllocator {
  using value_type = T;
  SanitizingAllocator() = default;
  template <typename U>
  explicit SanitizingAllocator(const SanitizingAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) std::abort();
    return static_cast<T*>(AllocateSecret(n * sizeof(T)));
  }
  void deallocate(T* ptr, std::size_t n) noexcept {
    FreeSecret(ptr, n * sizeof(T));
  }
  template <typename U>
  bool operator==(const SanitizingAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const SanitizingAllocator<U>&) const noexcept {
    return false;
  }
};

}  // namespace internal

// Bytes of a secret (a private key PEM, a Vault token, an AppRole secret id).
//
// Backed by a heap buffer that is wiped when released; unlike std::string it
// has no inline small-string buffer that would escape wiping. Printing it
// yields "[redacted]" so a secret can never reach a log by accident.
class SecretData {
 public:
  SecretData() = default;
  explicit SecretData(absl::string_view bytes)
      : bytes_(bytes.begin(), bytes.end()) {}
  SecretData(const SecretData&) = default;
  SecretData& operator=(const SecretData&) = default;
  SecretData(SecretData&&) noexcept = default;
  SecretData& operator=(SecretData&&) noexcept = default;
  ~SecretData() = default;

  // Returns a view of the secret bytes; valid while this object lives and is
  // not modified.
  absl::string_view view() const {
    return absl::string_view(bytes_.data(), bytes_.size());
  }
  const char* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  void Append(absl::string_view more) {
    bytes_.insert(bytes_.end(), more.begin(), more.end());
  }
  // Wipes and empties the buffer.
  void Clear();

 private:
  std::vector<char, internal::SanitizingAllocator<char>> bytes_;
};

// Compares two secrets in time that depends only on their lengths.
bool SecretEquals(absl::string_view a, absl::string_view b);
inline bool SecretEquals(const SecretData& a, const SecretData& b) {
  return SecretEquals(a.view(), b.view());
}

inline std::ostream& operator<<(std::ostream& os, const SecretData&) {
  return os << "[redacted]";
}

}  // namespace vaultca

#endif  // VAULTCA_COMMON_SECRET_DATA_H_
