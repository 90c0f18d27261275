#include "x509/pem_codec.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace vaultca {
namespace x509 {
namespace {

constexpr absl::string_view kBegin = "-----BEGIN ";
constexpr absl::string_view kEnd = "-----END ";
constexpr absl::string_view kDashes = "-----";
constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr uint8_t kInvalid = 0xff;
constexpr uint8_t kSpace = 0xfe;
constexpr uint8_t kPad = 0xfd;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (int i = 0; i < 64; ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  table[' '] = table['\t'] = table['\r'] = table['\n'] = kSpace;
  table['='] = kPad;
  return table;
}
constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

// Decodes padded standard base64, skipping whitespace. The hot path takes
// four symbols at a time; PEM bodies are 64-column lines, so whitespace is
// met once per 16 quads.
bool DecodeBase64(absl::string_view in, std::string* out) {
  out->resize(in.size() / 4 * 3 + 3);
  auto* dst = reinterpret_cast<uint8_t*>(&(*out)[0]);
  auto* const dst_start = dst;
  const auto* src = reinterpret_cast<const uint8_t*>(in.data());
  const auto* const end = src + in.size();
  uint32_t quad = 0;
  int symbols = 0;  // data symbols and '=' in the current quad
  int padding = 0;  // '=' in the current quad
  bool finished = false;  // a padded quad ended the data
  while (src < end) {
    if (symbols == 0 && !finished && end - src >= 4) {
      const uint8_t a = kDecode[src[0]], b = kDecode[src[1]],
                    c = kDecode[src[2]], d = kDecode[src[3]];
      if ((a | b | c | d) < 64) {
        const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
        dst[0] = static_cast<uint8_t>(v >> 16);
        dst[1] = static_cast<uint8_t>(v >> 8);
        dst[2] = static_cast<uint8_t>(v);
        dst += 3;
        src += 4;
        continue;
      }
    }
    const uint8_t v = kDecode[*src++];
    if (v == kSpace) continue;
    if (v == kInvalid || finished) return false;
    if (v == kPad) {
      // "xx==" and "xxx=" are the only padded quads.
      if (symbols < 2) return false;
      ++padding;
    } else {
      if (padding != 0) return false;  // data after '='
      quad = (quad << 6) | v;
    }
    if (++symbols < 4) continue;
    quad <<= 6 * padding;
    dst[0] = static_cast<uint8_t>(quad >> 16);
    dst[1] = static_cast<uint8_t>(quad >> 8);
    dst[2] = static_cast<uint8_t>(quad);
    dst += 3 - padding;
    finished = padding != 0;
    symbols = padding = 0;
    quad = 0;
  }
  if (symbols != 0) return false;  // a quad was left incomplete
  out->resize(static_cast<size_t>(dst - dst_start));
  return true;
}

}  // namespace

PemDecodeResult DecodeFirstPemBlock(absl::string_view text, PemBlock* block) {
  block->label = absl::string_view();
  block->der.clear();
  size_t begin = text.find(kBegin);
  if (begin == absl::string_view::npos) return PemDecodeResult::kNoBlock;
  const size_t label_start = begin + kBegin.size();
  const size_t label_end = text.find(kDashes, label_start);
  if (label_end == absl::string_view::npos) return PemDecodeResult::kNoBlock;
  const absl::string_view label =
      text.substr(label_start, label_end - label_start);
  if (label.find('\n') != absl::string_view::npos) {
    return PemDecodeResult::kNoBlock;
  }
  block->label = label;
  const size_t body_start = label_end + kDashes.size();

  // The END line must repeat the label exactly.
  size_t search = body_start;
  for (;;) {
    const size_t end = text.find(kEnd, search);
    if (end == absl::string_view::npos) return PemDecodeResult::kNoEnd;
    const absl::string_view after = text.substr(end + kEnd.size());
    if (after.size() >= label.size() + kDashes.size() &&
        after.substr(0, label.size()) == label &&
        after.substr(label.size(), kDashes.size()) == kDashes) {
      if (!DecodeBase64(text.substr(body_start, end - body_start),
                        &block->der)) {
        return PemDecodeResult::kBadBase64;
      }
      return PemDecodeResult::kOk;
    }
    search = end + kEnd.size();
  }
}

std::string EncodePem(absl::string_view label, absl::string_view der) {
  const size_t n = der.size();
  const size_t b64_size = (n + 2) / 3 * 4;
  const size_t lines = (b64_size + 63) / 64;
  const size_t frame = kDashes.size() + label.size() + 1;  // "LABEL-----\n"
  std::string out(kBegin.size() + frame + b64_size + lines + kEnd.size() +
                      frame,
                  '\0');
  char* dst = &out[0];
  auto put = [&dst](absl::string_view text) {
    std::memcpy(dst, text.data(), text.size());
    dst += text.size();
  };
  put(kBegin);
  put(label);
  put(kDashes);
  *dst++ = '\n';

  const auto* in = reinterpret_cast<const uint8_t*>(der.data());
  size_t i = 0;
  // Whole 48-byte input lines give 64 characters and a newline.
  for (; i + 48 <= n; i += 48) {
    for (size_t j = i; j < i + 48; j += 3) {
      const uint32_t v = (in[j] << 16) | (in[j + 1] << 8) | in[j + 2];
      dst[0] = kAlphabet[(v >> 18) & 63];
      dst[1] = kAlphabet[(v >> 12) & 63];
      dst[2] = kAlphabet[(v >> 6) & 63];
      dst[3] = kAlphabet[v & 63];
      dst += 4;
    }
    *dst++ = '\n';
  }
  if (i < n) {
    for (; i + 3 <= n; i += 3) {
      const uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
      dst[0] = kAlphabet[(v >> 18) & 63];
      dst[1] = kAlphabet[(v >> 12) & 63];
      dst[2] = kAlphabet[(v >> 6) & 63];
      dst[3] = kAlphabet[v & 63];
      dst += 4;
    }
    if (i < n) {
      uint32_t v = in[i] << 16;
      if (i + 1 < n) v |= in[i + 1] << 8;
      dst[0] = kAlphabet[(v >> 18) & 63];
      dst[1] = kAlphabet[(v >> 12) & 63];
      dst[2] = i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
      dst[3] = '=';
      dst += 4;
    }
    *dst++ = '\n';
  }
  put(kEnd);
  put(label);
  put(kDashes);
  *dst++ = '\n';
  return out;
}

}  // namespace x509
}  // namespace vaultca
