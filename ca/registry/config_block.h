#ifndef VAULTCA_CA_REGISTRY_CONFIG_BLOCK_H_
#define VAULTCA_CA_REGISTRY_CONFIG_BLOCK_H_

#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace ca {

// Parses the text of one option; `what` names the option or variable for
// the InvalidArgument message.
using OptionParser =
    std::function<absl::Status(absl::string_view what, absl::string_view text)>;

// An OptionParser storing what `parse` (StatusOr<T>(what, text)) returns
// in *out.
template <typename T, typename Parser>
OptionParser StoreParsed(T* out, Parser parse) {
  return [out, parse](absl::string_view what,
                      absl::string_view text) -> absl::Status {
    absl::StatusOr<T> value = parse(what, text);
    if (!value.ok()) return value.status();
    *out = *std::move(value);
    return absl::OkStatus();
  };
}

// One map of the configuration file (a source's ca.<key> block), as the
// server's reader presents it to a CaSourceFactory. Every reader leaves
// *out alone when the key is absent or null; a value of the wrong shape
// records InvalidArgument naming the key path and line. The first error
// sticks and the reader reports keys nobody read, so a factory reads every
// key it knows, whether or not its source is the one selected.
class ConfigBlock {
 public:
  virtual ~ConfigBlock() = default;

  virtual void String(absl::string_view key, std::string* out) = 0;
  virtual void Bool(absl::string_view key, bool* out) = 0;
  virtual void Int(absl::string_view key, int* out) = 0;
  // A Go-style duration ("90s", "24h").
  virtual void Duration(absl::string_view key, absl::Duration* out) = 0;
  virtual void StringList(absl::string_view key,
                          std::vector<std::string>* out) = 0;
  // Hands a non-empty string option to `parse` with its key path.
  virtual void Parsed(absl::string_view key, const OptionParser& parse) = 0;

  // Parsed, storing what `parse` returns in *out.
  template <typename T, typename Parser>
  void Value(absl::string_view key, T* out, Parser parse) {
    Parsed(key, StoreParsed(out, parse));
  }
};

// The environment variables a source reads over its block, as the server
// presents them: empty variables count as unset, and the first error
// sticks.
class EnvironmentBlock {
 public:
  virtual ~EnvironmentBlock() = default;

  virtual void String(absl::string_view name, std::string* out) = 0;
  // Hands a set variable to `parse` with its name.
  virtual void Parsed(absl::string_view name, const OptionParser& parse) = 0;

  // Parsed, storing what `parse` returns in *out.
  template <typename T, typename Parser>
  void Value(absl::string_view name, T* out, Parser parse) {
    Parsed(name, StoreParsed(out, parse));
  }
};

// InvalidArgument "configuration option <option>: <problem>", the form of
// every configuration check's message.
inline absl::Status InvalidOptionError(absl::string_view option,
                                       absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("configuration option ", option, ": ", problem));
}

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_REGISTRY_CONFIG_BLOCK_H_
