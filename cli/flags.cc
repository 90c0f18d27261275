#include "cli/flags.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vaultca {
namespace cli {

void FlagSet::String(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), Kind::kString, target,
                    target->empty() ? "" : absl::StrCat("\"", *target, "\""),
                    std::move(help)});
}

void FlagSet::Bool(std::string name, bool* target, std::string help) {
  flags_.push_back({std::move(name), Kind::kBool, target,
                    *target ? "true" : "false", std::move(help)});
}

void FlagSet::Duration(std::string name, absl::Duration* target,
                       std::string help) {
  flags_.push_back({std::move(name), Kind::kDuration, target,
                    absl::FormatDuration(*target), std::move(help)});
}

const FlagSet::Flag* FlagSet::Find(absl::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

bool FlagSet::WasSet(absl::string_view name) const {
  return std::find(set_.begin(), set_.end(), name) != set_.end();
}

absl::Status FlagSet::Set(const Flag& flag, absl::string_view value) {
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = std::string(value);
      break;
    case Kind::kBool: {
      const std::string lower = absl::AsciiStrToLower(value);
      if (lower == "true" || lower == "1" || lower == "yes") {
        *static_cast<bool*>(flag.target) = true;
      } else if (lower == "false" || lower == "0" || lower == "no") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", flag.name, ": \"", value, "\" is not true or false"));
      }
      break;
    }
    case Kind::kDuration: {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag.name, ": \"", value,
                         "\" is not a duration such as 90s, 30m or 24h"));
      }
      *static_cast<absl::Duration*>(flag.target) = d;
      break;
    }
  }
  set_.push_back(flag.name);
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name =
        arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (eq != std::string::npos) {
      if (absl::Status s = Set(*flag, arg.substr(eq + 1)); !s.ok()) return s;
    } else if (flag->kind == Kind::kBool) {
      if (absl::Status s = Set(*flag, "true"); !s.ok()) return s;
    } else if (i + 1 < args.size()) {
      if (absl::Status s = Set(*flag, args[++i]); !s.ok()) return s;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value"));
    }
  }
  return absl::OkStatus();
}

std::string FlagSet::Help() const {
  std::string out = usage_;
  if (!out.empty() && out.back() != '\n') out += '\n';
  if (flags_.empty()) return out;
  out += "\nFlags:\n";
  for (const Flag& flag : flags_) {
    absl::StrAppend(&out, "  --", flag.name,
                    flag.kind == Kind::kBool ? "" : "=VALUE", "\n      ",
                    flag.help);
    if (!flag.default_text.empty()) {
      absl::StrAppend(&out, " (default ", flag.default_text, ")");
    }
    out += '\n';
  }
  return out;
}

}  // namespace cli
}  // namespace vaultca
