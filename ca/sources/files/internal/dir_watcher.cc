#include "ca/sources/files/internal/dir_watcher.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

// Everything that can mean "a file in this directory now reads
// differently": writes finishing, files and symlinks appearing, renamed in
// (the ..data swap), removed, or their permissions changing.
constexpr uint32_t kEventMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB |
                                IN_DELETE_SELF | IN_MOVE_SELF;

// A burst of events longer than this many debounce periods still reports.
constexpr int kMaxDebouncePeriods = 10;

int PollTimeoutMs(absl::Duration wait) {
  if (wait == absl::InfiniteDuration()) return -1;
  if (wait <= absl::ZeroDuration()) return 0;
  // Rounds up so the deadline has passed when poll returns.
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(wait) + 1, 60 * 60 * 1000));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirWatcher>> DirWatcher::Start(
    Options options, std::function<void()> on_change) {
  const int inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot watch '", options.dir, "' for changes: inotify_init1: ",
        strerror(errno), "; raise fs.inotify.max_user_instances or rely on "
                         "periodic refresh"));
  }
  const int stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd < 0) {
    const int err = errno;
    ::close(inotify_fd);
    return absl::UnavailableError(absl::StrCat(
        "cannot watch '", options.dir, "' for changes: eventfd: ", strerror(err)));
  }
  // Watches before returning, so no change after Start is missed; a missing
  // directory is retried by the thread.
  const int wd = ::inotify_add_watch(inotify_fd, options.dir.c_str(), kEventMask);
  std::unique_ptr<DirWatcher> watcher(new DirWatcher(
      std::move(options), std::move(on_change), inotify_fd, stop_fd));
  watcher->thread_ = std::thread([raw = watcher.get(), wd] { raw->Run(wd); });
  return watcher;
}

DirWatcher::DirWatcher(Options options, std::function<void()> on_change,
                       int inotify_fd, int stop_fd)
    : options_(std::move(options)),
      on_change_(std::move(on_change)),
      inotify_fd_(inotify_fd),
      stop_fd_(stop_fd) {}

DirWatcher::~DirWatcher() {
  const uint64_t one = 1;
  // eventfd writes of 8 bytes cannot be partial.
  (void)!::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(inotify_fd_);
  ::close(stop_fd_);
}

void DirWatcher::Run(int initial_wd) {
  int wd = initial_wd;
  bool had_watch = wd >= 0;
  bool warned_missing = false;
  bool pending = false;
  absl::Time first_event = absl::InfinitePast();
  absl::Time fire_at = absl::InfiniteFuture();
  alignas(struct inotify_event) char buffer[16 * 1024];

  while (true) {
    if (wd < 0) {
      wd = ::inotify_add_watch(inotify_fd_, options_.dir.c_str(), kEventMask);
      if (wd >= 0) {
        warned_missing = false;
        if (had_watch) {
          // The directory came back (remount, re-creation): its files may
          // differ from what was last read.
          pending = true;
          first_event = fire_at = absl::Now();
        }
        had_watch = true;
      } else if (!warned_missing) {
        warned_missing = true;
        VAULTCA_LOG(WARNING) << "cannot watch CA directory '" << options_.dir
                             << "': " << strerror(errno) << "; retrying every "
                             << options_.rewatch_interval;
      }
    }

    absl::Duration wait = absl::InfiniteDuration();
    if (pending) wait = fire_at - absl::Now();
    if (wd < 0) wait = std::min(wait, options_.rewatch_interval);

    struct pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, PollTimeoutMs(wait));
    if (ready < 0 && errno != EINTR) {
      VAULTCA_LOG(ERROR) << "watching CA directory '" << options_.dir
                         << "' stopped: poll: " << strerror(errno);
      return;
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) return;

    if (ready > 0 && (fds[1].revents & POLLIN)) {
      bool changed = false;
      while (true) {
        const ssize_t n = ::read(inotify_fd_, buffer, sizeof(buffer));
        if (n <= 0) break;  // EAGAIN: drained.
        for (ssize_t offset = 0; offset < n;) {
          const auto* event =
              reinterpret_cast<const struct inotify_event*>(buffer + offset);
          offset += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
          if (event->mask & IN_IGNORED) {
            // The kernel dropped the watch: the directory was deleted or
            // its file system unmounted. Watch it again when it reappears.
            if (event->wd == wd) wd = -1;
            changed = true;
          } else if (event->mask & (kEventMask | IN_Q_OVERFLOW)) {
            changed = true;
          }
        }
      }
      if (changed) {
        const absl::Time now = absl::Now();
        if (!pending) first_event = now;
        pending = true;
        fire_at = std::min(now + options_.debounce,
                           first_event + kMaxDebouncePeriods * options_.debounce);
      }
    }

    if (pending && absl::Now() >= fire_at) {
      pending = false;
      fire_at = absl::InfiniteFuture();
      on_change_();
    }
  }
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
