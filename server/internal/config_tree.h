#ifndef VAULTCA_SERVER_INTERNAL_CONFIG_TREE_H_
#define VAULTCA_SERVER_INTERNAL_CONFIG_TREE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace server {
namespace internal {

// A YAML (or JSON, a YAML subset) document as plain data, so the typed
// configuration reader never touches the parser's exception-throwing API.
struct ConfigNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  // kScalar: the text as written (YAML scalars are untyped).
  std::string scalar;
  // kSequence.
  std::vector<ConfigNode> items;
  // kMap, in document order.
  std::vector<std::pair<std::string, ConfigNode>> entries;
  // 1-based line in the document, for messages.
  int line = 0;
};

// Parses `text`. An empty document is a null node. InvalidArgument with
// the parser's line and column for malformed input, for duplicate map keys,
// for non-scalar map keys and for aliases nested deeper than 64 levels.
absl::StatusOr<ConfigNode> ParseConfigTree(absl::string_view text);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_CONFIG_TREE_H_
