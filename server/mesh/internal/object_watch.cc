#include "server/mesh/internal/object_watch.h"

#include <algorithm>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "server/kube/api_stream.h"

namespace vaultca {
namespace server {
namespace mesh_internal {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxEventBytes = 4 << 20;
constexpr size_t kMaxPageBytes = 64 << 20;
constexpr size_t kMaxErrorBodyBytes = 64 << 10;
// A watch the server ends sooner than this with no event counts as a
// failure, so a server that closes watches at once is not hammered.
constexpr absl::Duration kMinWatchLength = absl::Seconds(1);
constexpr absl::Duration kBackoffReset = absl::Minutes(2);

// Doubling delays with jitter, as the pod informer's.
class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max)
      : initial_(initial), max_(max), random_(std::random_device{}()) {}

  absl::Duration Next() {
    const absl::Time now = absl::Now();
    if (current_ == absl::ZeroDuration() || now - last_ > kBackoffReset) {
      current_ = initial_;
    } else {
      current_ = std::min(current_ * 2, max_);
    }
    last_ = now;
    std::uniform_real_distribution<double> spread(0.5, 1.0);
    return current_ * spread(random_);
  }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  std::mt19937 random_;
  absl::Duration current_ = absl::ZeroDuration();
  absl::Time last_;
};

std::string HttpFailure(const std::string& what, long http_status,
                        absl::string_view body) {
  const std::string message = StatusMessage(body);
  return absl::StrCat(what, " answered HTTP ", http_status,
                      message.empty() ? "" : ": ", message);
}

}  // namespace

std::string QueryEscape(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string StringAt(const Json& object, const char* outer,
                     const char* inner) {
  if (!object.is_object()) return "";
  auto o = object.find(outer);
  if (o == object.end() || !o->is_object()) return "";
  auto i = o->find(inner);
  if (i == o->end() || !i->is_string()) return "";
  return i->get<std::string>();
}

ObjectWatch::ObjectWatch(std::shared_ptr<const KubeApiClient> api,
                         ObjectWatchOptions options, OnList on_list,
                         OnEvent on_event)
    : api_(std::move(api)),
      options_(std::move(options)),
      on_list_(std::move(on_list)),
      on_event_(std::move(on_event)) {
  thread_ = std::thread([this] { Run(); });
}

ObjectWatch::~ObjectWatch() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  canceller_.Cancel();
  thread_.join();
}

ObjectWatch::Stats ObjectWatch::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

bool ObjectWatch::Sleep(absl::Duration delay) {
  const absl::Time deadline = absl::Now() + delay;
  MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return true;
    wake_.WaitWithTimeout(&mu_, deadline - now);
  }
  return false;
}

bool ObjectWatch::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

std::string ObjectWatch::Url(absl::string_view extra) const {
  return absl::StrCat(options_.path, "?", options_.query,
                      options_.query.empty() ? "" : "&", extra);
}

void ObjectWatch::Run() {
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  std::string resource_version;  // empty: LIST first
  bool failed = false;
  while (true) {
    if (failed && !Sleep(backoff.Next())) return;
    if (stopping()) return;
    failed = false;
    if (resource_version.empty()) {
      absl::StatusOr<std::string> listed = List();
      if (stopping()) return;
      if (!listed.ok()) {
        VAULTCA_LOG(WARNING) << options_.log_prefix << ": " << listed.status();
        failed = true;
        continue;
      }
      resource_version = *std::move(listed);
    }
    switch (Watch(&resource_version)) {
      case WatchEnd::kServerClosed:
        break;
      case WatchEnd::kTooShort:
      case WatchEnd::kBroken:
        failed = true;
        break;
      case WatchEnd::kRelist:
        resource_version.clear();
        failed = true;
        break;
      case WatchEnd::kStopped:
        return;
    }
  }
}

absl::StatusOr<std::string> ObjectWatch::List() {
  std::vector<Json> items;
  std::string continue_token;
  std::string resource_version;
  const std::string what = absl::StrCat("LIST ", options_.what);
  do {
    std::string extra =
        absl::StrCat("limit=", std::max(1, options_.list_page_size));
    if (!continue_token.empty()) {
      absl::StrAppend(&extra, "&continue=", QueryEscape(continue_token));
    }
    std::string body;
    bool too_large = false;
    KubeStreamOptions stream;
    stream.timeout = options_.list_timeout;
    stream.idle_timeout = options_.idle_timeout;
    stream.canceller = &canceller_;
    absl::StatusOr<long> status = api_->Stream(
        Url(extra), stream, [&](long http_status, absl::string_view piece) {
          const size_t limit =
              http_status == 200 ? kMaxPageBytes : kMaxErrorBodyBytes;
          if (body.size() + piece.size() > limit) {
            too_large = http_status == 200;
            return false;
          }
          body.append(piece.data(), piece.size());
          return true;
        });
    if (!status.ok()) return status.status();
    if (too_large) {
      return absl::UnavailableError(
          absl::StrCat(what, ": a page is larger than ", kMaxPageBytes,
                       " bytes; lower the page size"));
    }
    if (*status != 200) {
      return absl::UnavailableError(HttpFailure(what, *status, body));
    }
    Json page = Json::parse(body, nullptr, false);
    resource_version = StringAt(page, "metadata", "resourceVersion");
    if (!page.is_object() || resource_version.empty()) {
      return absl::UnavailableError(
          absl::StrCat(what, ": not a list with metadata.resourceVersion"));
    }
    continue_token = StringAt(page, "metadata", "continue");
    auto list = page.find("items");
    if (list != page.end() && list->is_array()) {
      for (Json& item : *list) items.push_back(std::move(item));
    }
  } while (!continue_token.empty());

  on_list_(std::move(items));
  MutexLock lock(&mu_);
  ++stats_.lists;
  return resource_version;
}

ObjectWatch::WatchEnd ObjectWatch::Watch(std::string* resource_version) {
  const std::string what = absl::StrCat("WATCH ", options_.what);
  const std::string url = Url(absl::StrCat(
      "watch=1&allowWatchBookmarks=true&resourceVersion=",
      QueryEscape(*resource_version), "&timeoutSeconds=",
      std::max<int64_t>(1, absl::ToInt64Seconds(options_.watch_timeout))));
  KubeStreamOptions stream;
  // The server ends the watch; this only catches one that does not.
  stream.timeout = options_.watch_timeout + options_.idle_timeout;
  stream.idle_timeout = options_.idle_timeout;
  stream.canceller = &canceller_;
  {
    MutexLock lock(&mu_);
    ++stats_.watches;
  }

  const absl::Time start = absl::Now();
  LineSplitter lines(kMaxEventBytes);
  std::string error_body;
  int applied = 0;
  std::optional<std::string> relist;

  auto on_line = [&](absl::string_view line) {
    Json event = Json::parse(line.begin(), line.end(), nullptr, false);
    auto type = event.is_object() ? event.find("type") : event.end();
    auto object = event.is_object() ? event.find("object") : event.end();
    if (!event.is_object() || type == event.end() || !type->is_string() ||
        object == event.end() || !object->is_object()) {
      relist = "an unreadable event";
      return false;
    }
    const std::string& kind = type->get_ref<const std::string&>();
    if (kind == "ERROR") {
      relist = absl::StrCat("ERROR event: ", object->value("message", ""));
      return false;
    }
    const std::string version = StringAt(*object, "metadata", "resourceVersion");
    if (version.empty()) {
      relist = "an event without a resourceVersion";
      return false;
    }
    if (kind == "ADDED" || kind == "MODIFIED") {
      on_event_(ObjectEvent::kUpsert, *object);
    } else if (kind == "DELETED") {
      on_event_(ObjectEvent::kDelete, *object);
    } else if (kind != "BOOKMARK") {
      relist = absl::StrCat("an event of unknown type ", kind);
      return false;
    }
    *resource_version = version;
    ++applied;
    if (kind != "BOOKMARK") {
      MutexLock lock(&mu_);
      ++stats_.events;
    }
    return true;
  };

  absl::StatusOr<long> status = api_->Stream(
      url, stream, [&](long http_status, absl::string_view piece) {
        if (http_status != 200) {
          if (error_body.size() + piece.size() > kMaxErrorBodyBytes) {
            return false;
          }
          error_body.append(piece.data(), piece.size());
          return true;
        }
        absl::Status fed = lines.Feed(piece, on_line);
        if (!fed.ok()) {
          relist = std::string(fed.message());
          return false;
        }
        return !relist.has_value();
      });
  if (!status.ok()) {
    if (status.status().code() == absl::StatusCode::kCancelled) {
      return WatchEnd::kStopped;
    }
    VAULTCA_LOG(WARNING) << options_.log_prefix << ": " << what << ": "
                         << status.status();
    return WatchEnd::kBroken;
  }
  if (relist.has_value()) {
    VAULTCA_LOG(INFO) << options_.log_prefix << ": " << what << ": " << *relist
                      << "; re-listing";
    return WatchEnd::kRelist;
  }
  if (*status == 410) return WatchEnd::kRelist;
  if (*status != 200) {
    VAULTCA_LOG(WARNING) << options_.log_prefix << ": "
                         << HttpFailure(what, *status, error_body);
    return WatchEnd::kBroken;
  }
  if (applied == 0 && absl::Now() - start < kMinWatchLength) {
    return WatchEnd::kTooShort;
  }
  return WatchEnd::kServerClosed;
}

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca
