#include "server/kube/internal/pod_json.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/api_stream.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPod[] =
    R"({"kind":"Pod","metadata":{"namespace":"default","name":"sleep-1",)"
    R"("uid":"u1","resourceVersion":"17","labels":{"app":"sleep"}},)"
    R"("spec":{"serviceAccountName":"sleep","nodeName":"node-1",)"
    R"("containers":[{"name":"c"}]},"status":{"phase":"Running"}})";

TEST(PodJsonTest, ReadsAListPage) {
  absl::StatusOr<PodListPage> page = ParsePodListPage(
      std::string(R"({"kind":"PodList","metadata":{"resourceVersion":"20",)"
                  R"("continue":"next"},"items":[)") +
      kPod + "]}");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->resource_version, "20");
  EXPECT_EQ(page->continue_token, "next");
  ASSERT_EQ(page->pods.size(), 1u);
  const PodInfo& pod = page->pods[0];
  EXPECT_EQ(pod.kube_namespace, "default");
  EXPECT_EQ(pod.name, "sleep-1");
  EXPECT_EQ(pod.uid, "u1");
  EXPECT_EQ(pod.service_account, "sleep");
  EXPECT_EQ(pod.node, "node-1");
  EXPECT_EQ(pod.phase, "Running");
}

TEST(PodJsonTest, AnEmptyClusterHasNullItems) {
  absl::StatusOr<PodListPage> page =
      ParsePodListPage(R"({"metadata":{"resourceVersion":"3"},"items":null})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->pods.empty());
  EXPECT_EQ(page->continue_token, "");
}

TEST(PodJsonTest, RefusesListsItCannotTrust) {
  for (const char* body :
       {"", "[]", "not json", R"({"items":[]})",
        R"({"metadata":{"resourceVersion":"3"},"items":{}})",
        R"({"metadata":{"resourceVersion":"3"},"items":[{"metadata":{}}]})",
        R"({"metadata":{"resourceVersion":"3"},"items":[7]})"}) {
    EXPECT_EQ(ParsePodListPage(body).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(PodJsonTest, ReadsEveryEventType) {
  for (const auto& [name, type] :
       std::vector<std::pair<std::string, WatchEvent::Type>>{
           {"ADDED", WatchEvent::Type::kAdded},
           {"MODIFIED", WatchEvent::Type::kModified},
           {"DELETED", WatchEvent::Type::kDeleted}}) {
    absl::StatusOr<WatchEvent> event = ParseWatchEvent(
        std::string(R"({"type":")") + name + R"(","object":)" + kPod + "}");
    ASSERT_TRUE(event.ok()) << name << ": " << event.status();
    EXPECT_EQ(event->type, type);
    EXPECT_EQ(event->resource_version, "17");
    EXPECT_EQ(event->pod.name, "sleep-1");
  }
  absl::StatusOr<WatchEvent> bookmark = ParseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":)"
      R"({"resourceVersion":"99"}}})");
  ASSERT_TRUE(bookmark.ok()) << bookmark.status();
  EXPECT_EQ(bookmark->type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(bookmark->resource_version, "99");

  absl::StatusOr<WatchEvent> error = ParseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,)"
      R"json("reason":"Expired","message":"too old resource version: 1 (5)"}})json");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->type, WatchEvent::Type::kError);
  EXPECT_EQ(error->error_code, 410);
  EXPECT_THAT(error->error_message, HasSubstr("too old"));
}

TEST(PodJsonTest, RefusesEventsItCannotApply) {
  for (const std::string& line : std::vector<std::string>{
           "{garbage", "[]", R"({"type":"ADDED"})",
           R"({"type":"ADDED","object":"x"})",
           R"({"type":"SYNC","object":)" + std::string(kPod) + "}",
           R"({"type":"BOOKMARK","object":{"metadata":{}}})",
           R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}})"}) {
    EXPECT_EQ(ParseWatchEvent(line).status().code(),
              absl::StatusCode::kInvalidArgument)
        << line;
  }
}

TEST(PodJsonTest, StatusMessageNeverEchoesTheBody) {
  EXPECT_EQ(StatusMessage(R"({"kind":"Status","message":"forbidden"})"),
            "forbidden");
  EXPECT_EQ(StatusMessage("<html>secret</html>"), "");
  EXPECT_EQ(StatusMessage(R"({"message":7})"), "");
}

std::vector<std::string> Split(LineSplitter& splitter,
                               const std::vector<std::string>& pieces,
                               absl::Status* status = nullptr) {
  std::vector<std::string> lines;
  for (const std::string& piece : pieces) {
    absl::Status s = splitter.Feed(piece, [&](absl::string_view line) {
      lines.emplace_back(line);
      return true;
    });
    if (status != nullptr && !s.ok()) *status = s;
  }
  return lines;
}

TEST(LineSplitterTest, JoinsLinesCutAnywhere) {
  LineSplitter splitter(100);
  EXPECT_THAT(Split(splitter, {"ab", "c\nde", "f\n\n", "g", "\nh"}),
              ElementsAre("abc", "def", "g"));
  EXPECT_THAT(Split(splitter, {"\n"}), ElementsAre("h"));
}

TEST(LineSplitterTest, StopsWhenAsked) {
  LineSplitter splitter(100);
  std::vector<std::string> lines;
  ASSERT_TRUE(splitter
                  .Feed("a\nb\nc\n",
                        [&](absl::string_view line) {
                          lines.emplace_back(line);
                          return false;
                        })
                  .ok());
  EXPECT_THAT(lines, ElementsAre("a"));
}

TEST(LineSplitterTest, BoundsALine) {
  LineSplitter splitter(8);
  absl::Status status;
  Split(splitter, {"12345", "6789"}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  // A line that fits in the bound still passes.
  LineSplitter ok(8);
  EXPECT_THAT(Split(ok, {"1234", "5678\n"}), ElementsAre("12345678"));
}

}  // namespace
}  // namespace internal
}  // namespace server
}  // namespace vaultca
