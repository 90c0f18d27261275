#ifndef VAULTCA_VAULT_INTERNAL_JSON_H_
#define VAULTCA_VAULT_INTERNAL_JSON_H_

// JSON for Vault responses, which carry tokens and secret values.
//
// SecureJson is nlohmann::basic_json whose strings and nodes are allocated
// with the wiping allocator, so parsing a login response or a KV secret
// leaves no copy of the secret in freed heap memory. Only the non-throwing
// API is used: parse with ParseJson (never json::parse without
// allow_exceptions=false) and read values through the helpers below, which
// check types first.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/secret_data.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace vault {
namespace internal {

using SecureString =
    std::basic_string<char, std::char_traits<char>,
                      ::vaultca::internal::SanitizingAllocator<char>>;

using SecureJson =
    nlohmann::basic_json<std::map, std::vector, SecureString, bool,
                         std::int64_t, std::uint64_t, double,
                         ::vaultca::internal::SanitizingAllocator>;

// Parses `text`; returns nullopt when it is not valid JSON. Never throws.
std::optional<SecureJson> ParseJson(absl::string_view text);

// Returns the member `key` of `object` when `object` is an object holding
// it, else nullptr.
const SecureJson* Member(const SecureJson& object, absl::string_view key);

// Returns the string member `key`, or nullopt when absent or not a string.
std::optional<std::string> StringMember(const SecureJson& object,
                                        absl::string_view key);
// Like StringMember, into wiping memory (tokens, secret values).
std::optional<SecretData> SecretMember(const SecureJson& object,
                                       absl::string_view key);
// Returns the integer member `key` (JSON integers, or strings of digits as
// some Vault fields are), else nullopt.
std::optional<int64_t> IntMember(const SecureJson& object,
                                 absl::string_view key);
// Returns the boolean member `key`, else nullopt.
std::optional<bool> BoolMember(const SecureJson& object, absl::string_view key);

// Appends `value` to `out` as a quoted JSON string with RFC 8259 escaping.
void AppendJsonString(absl::string_view value, SecretData* out);
void AppendJsonString(absl::string_view value, std::string* out);

}  // namespace internal
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_INTERNAL_JSON_H_
