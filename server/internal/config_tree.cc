#include "server/internal/config_tree.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

constexpr int kMaxDepth = 64;

absl::StatusOr<ConfigNode> Convert(const YAML::Node& node, int depth) {
  ConfigNode out;
  out.line = node.Mark().line + 1;
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "configuration nests deeper than ", kMaxDepth, " levels at line ",
        out.line));
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = ConfigNode::Kind::kNull;
      return out;
    case YAML::NodeType::Scalar:
      out.kind = ConfigNode::Kind::kScalar;
      out.scalar = node.Scalar();
      return out;
    case YAML::NodeType::Sequence:
      out.kind = ConfigNode::Kind::kSequence;
      for (auto it = node.begin(); it != node.end(); ++it) {
        absl::StatusOr<ConfigNode> item = Convert(*it, depth + 1);
        if (!item.ok()) return item.status();
        out.items.push_back(*std::move(item));
      }
      return out;
    case YAML::NodeType::Map: {
      out.kind = ConfigNode::Kind::kMap;
      std::set<std::string> seen;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "configuration line ", it->first.Mark().line + 1,
              ": map keys must be plain strings"));
        }
        const std::string key = it->first.Scalar();
        if (!seen.insert(key).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("configuration line ", it->first.Mark().line + 1,
                           ": key '", key, "' appears twice"));
        }
        absl::StatusOr<ConfigNode> value = Convert(it->second, depth + 1);
        if (!value.ok()) return value.status();
        out.entries.emplace_back(key, *std::move(value));
      }
      return out;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ConfigNode> ParseConfigTree(absl::string_view text) {
  // yaml-cpp reports errors only by throwing; this is the one place vaultca
  // catches, so nothing escapes as an exception.
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return Convert(root, 0);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration is not valid YAML/JSON: line ",
                     e.mark.line + 1, ", column ", e.mark.column + 1, ": ",
                     e.msg));
  }
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
