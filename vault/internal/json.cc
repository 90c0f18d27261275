#include "vault/internal/json.h"

#include "absl/strings/numbers.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

template <typename Out>
void AppendEscaped(absl::string_view value, Out* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\"");
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out->append(absl::string_view(esc, sizeof(esc)));
        } else {
          const char ch = static_cast<char>(c);
          out->append(absl::string_view(&ch, 1));
        }
    }
  }
  out->append("\"");
}

// Adapts SecretData to the append() interface AppendEscaped uses.
struct SecretAppender {
  SecretData* out;
  void append(absl::string_view s) { out->Append(s); }
};
struct StringAppender {
  std::string* out;
  void append(absl::string_view s) { out->append(s.data(), s.size()); }
};

}  // namespace

std::optional<SecureJson> ParseJson(absl::string_view text) {
  SecureJson parsed = SecureJson::parse(text.begin(), text.end(), nullptr,
                                        /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

const SecureJson* Member(const SecureJson& object, absl::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(SecureString(key.data(), key.size()));
  if (it == object.end()) return nullptr;
  return &*it;
}

std::optional<std::string> StringMember(const SecureJson& object,
                                        absl::string_view key) {
  const SecureJson* v = Member(object, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const SecureString& s = v->get_ref<const SecureString&>();
  return std::string(s.data(), s.size());
}

std::optional<SecretData> SecretMember(const SecureJson& object,
                                       absl::string_view key) {
  const SecureJson* v = Member(object, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const SecureString& s = v->get_ref<const SecureString&>();
  return SecretData(absl::string_view(s.data(), s.size()));
}

std::optional<int64_t> IntMember(const SecureJson& object,
                                 absl::string_view key) {
  const SecureJson* v = Member(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v->is_string()) {
    const SecureString& s = v->get_ref<const SecureString&>();
    int64_t out;
    if (absl::SimpleAtoi(absl::string_view(s.data(), s.size()), &out)) {
      return out;
    }
  }
  return std::nullopt;
}

std::optional<bool> BoolMember(const SecureJson& object,
                               absl::string_view key) {
  const SecureJson* v = Member(object, key);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

void AppendJsonString(absl::string_view value, SecretData* out) {
  SecretAppender appender{out};
  AppendEscaped(value, &appender);
}

void AppendJsonString(absl::string_view value, std::string* out) {
  StringAppender appender{out};
  AppendEscaped(value, &appender);
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
