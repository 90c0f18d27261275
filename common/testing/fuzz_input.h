#ifndef VAULTCA_COMMON_TESTING_FUZZ_INPUT_H_
#define VAULTCA_COMMON_TESTING_FUZZ_INPUT_H_

// A tiny length-prefixed framing for fuzz targets whose input has several
// parts (a CSR, a TTL, metadata values...). Unlike libFuzzer's
// FuzzedDataProvider it has an encoder, so seeds can be built from real
// messages, and it compiles with any compiler (CMake builds with g++).
//
// Each field is a 2-byte little-endian length followed by that many bytes;
// a short or missing field reads as what is left (possibly nothing), so
// every byte string decodes to something.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace fuzzing {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit FuzzInput(absl::string_view data) : rest_(data) {}

  // Returns the next field; empty once the input is used up.
  std::string Field() {
    const size_t length = Uint(2);
    const size_t n = length < rest_.size() ? length : rest_.size();
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }

  // Returns the next `bytes` bytes (at most 8) as a little-endian integer;
  // missing bytes read as zero.
  uint64_t Uint(int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes && !rest_.empty(); ++i) {
      value |= uint64_t{static_cast<uint8_t>(rest_[0])} << (8 * i);
      rest_.remove_prefix(1);
    }
    return value;
  }

  // Everything not consumed yet.
  absl::string_view Rest() const { return rest_; }

 private:
  absl::string_view rest_;
};

// Builds inputs FuzzInput reads back field by field.
class FuzzInputWriter {
 public:
  FuzzInputWriter& Field(absl::string_view value) {
    // Longer values are cut, as FuzzInput could not address them anyway.
    const size_t n = value.size() < 0xffff ? value.size() : 0xffff;
    Uint(n, 2);
    out_.append(value.data(), n);
    return *this;
  }
  FuzzInputWriter& Uint(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
    return *this;
  }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

}  // namespace fuzzing
}  // namespace vaultca

#endif  // VAULTCA_COMMON_TESTING_FUZZ_INPUT_H_
