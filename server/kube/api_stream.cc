#include "server/kube/api_stream.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace server {

using Json = nlohmann::json;

std::string StatusMessage(absl::string_view body) {
  Json status = Json::parse(body.begin(), body.end(), nullptr, false);
  if (!status.is_object()) return "";
  auto message = status.find("message");
  if (message == status.end() || !message->is_string()) return "";
  return message->get<std::string>();
}

absl::Status LineSplitter::Feed(
    absl::string_view piece,
    const std::function<bool(absl::string_view line)>& on_line) {
  while (!piece.empty()) {
    const size_t newline = piece.find('\n');
    const size_t take = newline == absl::string_view::npos ? piece.size()
                                                           : newline;
    if (partial_.size() + take > max_) {
      partial_.clear();
      return absl::ResourceExhaustedError(absl::StrCat(
          "a watch event is larger than ", max_, " bytes"));
    }
    if (newline == absl::string_view::npos) {
      partial_.append(piece.data(), piece.size());
      return absl::OkStatus();
    }
    absl::string_view line;
    if (partial_.empty()) {
      line = piece.substr(0, newline);
    } else {
      partial_.append(piece.data(), newline);
      line = partial_;
    }
    piece.remove_prefix(newline + 1);
    const bool more = line.empty() || on_line(line);
    partial_.clear();
    if (!more) return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace server
}  // namespace vaultca
