#ifndef VAULTCA_CLI_FLAGS_H_
#define VAULTCA_CLI_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace cli {

// Exit codes every subcommand uses, for cron and CI.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // A check failed, a write was refused.
inline constexpr int kExitUsage = 2;   // Bad flags or configuration.

// The flags of one subcommand. Each subcommand owns its FlagSet instead of
// sharing process-wide Abseil flags, so two subcommands may use the same
// flag name with different meanings and each --help lists only its own.
//
// Accepted forms: --name=value, --name value, --name (booleans only),
// --name=true|false. "--" ends the flags.
class FlagSet {
 public:
  // `usage` is the first lines of --help (synopsis and description).
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  // Registers a flag writing into `*target`; its value at registration is
  // the default shown in --help. `target` must outlive Parse.
  void String(std::string name, std::string* target, std::string help);
  void Bool(std::string name, bool* target, std::string help);
  // Go syntax ("90s", "30m", "24h").
  void Duration(std::string name, absl::Duration* target, std::string help);

  // Parses `args` (the words after the subcommand). InvalidArgument naming
  // the flag for an unknown flag, a missing value or a value that does not
  // parse. --help and -h set help_requested() and stop parsing.
  absl::Status Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  // Words that are not flags, in order.
  const std::vector<std::string>& positional() const { return positional_; }
  // True when --`name` appeared on the command line.
  bool WasSet(absl::string_view name) const;

  // The --help text: usage, then every flag with its default and help.
  std::string Help() const;

 private:
  enum class Kind { kString, kBool, kDuration };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string default_text;
    std::string help;
  };
  const Flag* Find(absl::string_view name) const;
  absl::Status Set(const Flag& flag, absl::string_view value);

  std::string usage_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  std::vector<std::string> set_;
  bool help_requested_ = false;
};

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_FLAGS_H_
