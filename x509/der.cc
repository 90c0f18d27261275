#include "x509/der.h"

namespace vaultca {
namespace x509 {

bool DerReader::ReadAny(DerElement* out) {
  const size_t size = rest_.size();
  if (size < 2) return false;
  const auto* bytes = reinterpret_cast<const uint8_t*>(rest_.data());
  const uint8_t tag = bytes[0];
  // Multi-byte (high) tag numbers never occur in what we parse.
  if ((tag & 0x1f) == 0x1f) return false;
  size_t length = bytes[1];
  size_t header = 2;
  if (length >= 0x80) {
    const size_t count = length & 0x7f;
    // 0x80 is BER's indefinite form; more than 4 length bytes cannot
    // describe anything that fits our 64 KiB input limit.
    if (count == 0 || count > 4 || size < 2 + count) return false;
    length = 0;
    for (size_t i = 0; i < count; ++i) length = (length << 8) | bytes[2 + i];
    // DER: the shortest form, without leading zero bytes.
    if (length < 0x80 || bytes[2] == 0) return false;
    header += count;
  }
  if (length > size - header) return false;
  out->tag = tag;
  out->contents = rest_.substr(header, length);
  out->encoding = rest_.substr(0, header + length);
  rest_.remove_prefix(header + length);
  return true;
}

bool DerReader::Read(uint8_t tag, DerElement* out) {
  if (PeekTag() != tag) return false;
  return ReadAny(out);
}

size_t DerHeaderSize(size_t length) {
  if (length < 0x80) return 2;
  size_t count = 0;
  for (size_t l = length; l != 0; l >>= 8) ++count;
  return 2 + count;
}

void AppendDerHeader(uint8_t tag, size_t length, std::string* out) {
  out->push_back(static_cast<char>(tag));
  if (length < 0x80) {
    out->push_back(static_cast<char>(length));
    return;
  }
  const size_t count = DerHeaderSize(length) - 2;
  out->push_back(static_cast<char>(0x80 | count));
  for (size_t i = count; i > 0; --i) {
    out->push_back(static_cast<char>((length >> (8 * (i - 1))) & 0xff));
  }
}

std::string DerOidToText(absl::string_view contents) {
  if (contents.empty()) return "";
  std::string text;
  uint64_t value = 0;
  bool first = true;
  bool in_arc = false;
  for (const char c : contents) {
    const uint8_t byte = static_cast<uint8_t>(c);
    // A leading 0x80 is a non-minimal arc; 57 bits is far beyond any real
    // arc and keeps the shift below from overflowing.
    if ((!in_arc && byte == 0x80) || value > (uint64_t{1} << 56)) return "";
    value = (value << 7) | (byte & 0x7f);
    in_arc = (byte & 0x80) != 0;
    if (in_arc) continue;
    if (first) {
      // The first byte folds the first two arcs: 40 * X + Y.
      const uint64_t x = value < 80 ? value / 40 : 2;
      text = std::to_string(x) + "." + std::to_string(value - 40 * x);
      first = false;
    } else {
      text += "." + std::to_string(value);
    }
    value = 0;
  }
  return in_arc ? "" : text;
}

void AppendDer(uint8_t tag, absl::string_view contents, std::string* out) {
  AppendDerHeader(tag, contents.size(), out);
  out->append(contents.data(), contents.size());
}

}  // namespace x509
}  // namespace vaultca
