#include "server/kube/internal/pod_informer.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "server/kube/api_stream.h"
#include "server/kube/internal/pod_json.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

// A watch event (one pod object) may not exceed this.
constexpr size_t kMaxEventBytes = 4 << 20;
// Error bodies are read only for their message.
constexpr size_t kMaxErrorBodyBytes = 64 << 10;
// A watch the server ends sooner than this without any event is treated as
// a failure, so a server that closes watches at once is not hammered.
constexpr absl::Duration kMinWatchLength = absl::Seconds(1);
// Consecutive failures further apart than this start the backoff afresh.
constexpr absl::Duration kBackoffReset = absl::Minutes(2);

// Percent-encodes everything but RFC 3986's unreserved characters.
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

std::string HttpFailure(const char* what, long http_status,
                        absl::string_view body) {
  std::string message = StatusMessage(body);
  return absl::StrCat(what, " answered HTTP ", http_status,
                      message.empty() ? "" : ": ", message,
                      http_status == 401 || http_status == 403
                          ? " (vaultca-server needs list and watch on pods "
                            "in all namespaces)"
                          : "");
}

// Doubling delays with jitter; restarts from `initial` once failures stop
// for a while.
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
    // Between half and all of the current step, so that replicas that
    // lost the API server together do not come back in lockstep.
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

}  // namespace

PodInformer::PodInformer(std::shared_ptr<const KubeApiClient> api,
                         PodIndexOptions options)
    : api_(std::move(api)), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

PodInformer::~PodInformer() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  canceller_.Cancel();
  thread_.join();
}

bool PodInformer::HasSynced() const {
  MutexLock lock(&mu_);
  return synced_;
}

bool PodInformer::WaitForSync(absl::Duration timeout) const {
  return WaitFor([](const Stats& s) { return s.lists > 0; }, timeout);
}

absl::Status PodInformer::Ready() const {
  if (!synced_) {
    return absl::UnavailableError(absl::StrCat(
        "the pod index has not loaded the cluster's pods yet",
        last_error_.ok() ? "" : ": ", last_error_.message()));
  }
  if (broken_since_.has_value()) {
    const absl::Duration broken = absl::Now() - *broken_since_;
    if (broken > options_.max_staleness) {
      return absl::UnavailableError(absl::StrCat(
          "the pod index has been out of touch with the Kubernetes API for ",
          absl::FormatDuration(absl::Trunc(broken, absl::Milliseconds(1))),
          ": ", last_error_.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PodInfo> PodInformer::GetPod(absl::string_view kube_namespace,
                                            absl::string_view name) const {
  MutexLock lock(&mu_);
  if (absl::Status s = Ready(); !s.ok()) return s;
  const PodInfo* pod = store_.Find(kube_namespace, name);
  if (pod == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("pod ", kube_namespace, "/", name, " not found"));
  }
  return *pod;
}

absl::StatusOr<int> PodInformer::CountLive(
    absl::string_view node, absl::string_view kube_namespace,
    absl::string_view service_account) const {
  MutexLock lock(&mu_);
  if (absl::Status s = Ready(); !s.ok()) return s;
  return store_.CountLive(node, kube_namespace, service_account);
}

PodInformer::Stats PodInformer::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

void PodInformer::MarkBroken(const absl::Status& why) {
  MutexLock lock(&mu_);
  if (!broken_since_.has_value()) {
    broken_since_ = absl::Now();
    VAULTCA_LOG(WARNING) << "pod index: " << why;
  }
  last_error_ = why;
  changed_.SignalAll();
}

void PodInformer::MarkHealthy() {
  MutexLock lock(&mu_);
  if (broken_since_.has_value()) {
    VAULTCA_LOG(INFO) << "pod index: back in touch with the Kubernetes API";
  }
  broken_since_.reset();
  last_error_ = absl::OkStatus();
  changed_.SignalAll();
}

bool PodInformer::Sleep(absl::Duration delay) {
  const absl::Time deadline = absl::Now() + delay;
  MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return true;
    changed_.WaitWithTimeout(&mu_, deadline - now);
  }
  return false;
}

bool PodInformer::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

void PodInformer::Run() {
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
        MarkBroken(listed.status());
        failed = true;
        continue;
      }
      resource_version = *std::move(listed);
      MarkHealthy();
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

absl::StatusOr<std::string> PodInformer::List() {
  PodStore fresh;
  std::string continue_token;
  std::string resource_version;
  do {
    std::string path = absl::StrCat("/api/v1/pods?limit=",
                                     std::max(1, options_.list_page_size));
    if (!continue_token.empty()) {
      absl::StrAppend(&path, "&continue=", QueryEscape(continue_token));
    }
    std::string body;
    bool too_large = false;
    KubeStreamOptions stream;
    stream.timeout = options_.list_timeout;
    stream.idle_timeout = options_.idle_timeout;
    stream.canceller = &canceller_;
    {
      MutexLock lock(&mu_);
      ++stats_.list_requests;
    }
    absl::StatusOr<long> status = api_->Stream(
        path, stream, [&](long http_status, absl::string_view piece) {
          const size_t limit = http_status == 200 ? options_.max_page_bytes
                                                  : kMaxErrorBodyBytes;
          if (body.size() + piece.size() > limit) {
            too_large = http_status == 200;
            return false;
          }
          body.append(piece.data(), piece.size());
          return true;
        });
    if (!status.ok()) return status.status();
    if (too_large) {
      return absl::UnavailableError(absl::StrCat(
          "a page of the pod LIST is larger than ", options_.max_page_bytes,
          " bytes; lower the page size"));
    }
    if (*status != 200) {
      // 410 here means the continue token expired: the next attempt starts
      // the LIST over.
      return absl::UnavailableError(HttpFailure("LIST pods", *status, body));
    }
    absl::StatusOr<PodListPage> page = ParsePodListPage(body);
    if (!page.ok()) {
      return absl::UnavailableError(
          absl::StrCat("LIST pods: ", page.status().message()));
    }
    for (PodInfo& pod : page->pods) fresh.Upsert(std::move(pod));
    resource_version = std::move(page->resource_version);
    continue_token = std::move(page->continue_token);
  } while (!continue_token.empty());

  MutexLock lock(&mu_);
  store_.swap(fresh);
  synced_ = true;
  ++stats_.lists;
  stats_.resource_version = resource_version;
  stats_.pods = store_.size();
  changed_.SignalAll();
  return resource_version;
}

PodInformer::WatchEnd PodInformer::Watch(std::string* resource_version) {
  const std::string path = absl::StrCat(
      "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=",
      QueryEscape(*resource_version), "&timeoutSeconds=",
      std::max<int64_t>(1, absl::ToInt64Seconds(options_.watch_timeout)));
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
  // Why the stream was cut short from this side, if it was.
  std::optional<absl::Status> relist;

  auto on_line = [&](absl::string_view line) {
    absl::StatusOr<WatchEvent> event = ParseWatchEvent(line);
    if (!event.ok()) {
      relist = absl::UnavailableError(
          absl::StrCat("WATCH pods: ", event.status().message()));
      return false;
    }
    if (event->type == WatchEvent::Type::kError) {
      relist = absl::UnavailableError(absl::StrCat(
          "WATCH pods: ERROR event ", event->error_code, ": ",
          event->error_message));
      return false;
    }
    MutexLock lock(&mu_);
    switch (event->type) {
      case WatchEvent::Type::kAdded:
      case WatchEvent::Type::kModified:
        store_.Upsert(std::move(event->pod));
        break;
      case WatchEvent::Type::kDeleted:
        store_.Remove(event->pod.kube_namespace, event->pod.name);
        break;
      default:
        break;
    }
    *resource_version = event->resource_version;
    ++applied;
    ++stats_.events;
    stats_.resource_version = *resource_version;
    stats_.pods = store_.size();
    changed_.SignalAll();
    return true;
  };

  absl::StatusOr<long> status = api_->Stream(
      path, stream, [&](long http_status, absl::string_view piece) {
        if (http_status != 200) {
          if (error_body.size() + piece.size() > kMaxErrorBodyBytes) {
            return false;
          }
          error_body.append(piece.data(), piece.size());
          return true;
        }
        if (piece.empty()) {
          MarkHealthy();
          return true;
        }
        absl::Status fed = lines.Feed(piece, on_line);
        if (!fed.ok()) {
          relist = absl::UnavailableError(
              absl::StrCat("WATCH pods: ", fed.message()));
          return false;
        }
        return !relist.has_value();
      });
  if (!status.ok()) {
    if (status.status().code() == absl::StatusCode::kCancelled) {
      return WatchEnd::kStopped;
    }
    MarkBroken(status.status());
    return WatchEnd::kBroken;
  }
  if (relist.has_value()) {
    VAULTCA_LOG(INFO) << "pod index: " << relist->message() << "; re-listing";
    return WatchEnd::kRelist;
  }
  if (*status == 410) {
    VAULTCA_LOG(INFO) << "pod index: resourceVersion " << *resource_version
                      << " expired; re-listing";
    return WatchEnd::kRelist;
  }
  if (*status != 200) {
    MarkBroken(absl::UnavailableError(
        HttpFailure("WATCH pods", *status, error_body)));
    return WatchEnd::kBroken;
  }
  if (applied == 0 && absl::Now() - start < kMinWatchLength) {
    return WatchEnd::kTooShort;
  }
  return WatchEnd::kServerClosed;
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
