#ifndef VAULTCA_CA_SOURCES_FILES_INTERNAL_DIR_WATCHER_H_
#define VAULTCA_CA_SOURCES_FILES_INTERNAL_DIR_WATCHER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vaultca {
namespace ca {
namespace internal {

// Watches one directory with inotify and reports, debounced, that something
// in it changed. Built for Kubernetes Secret volumes: the kubelet writes a
// new timestamped directory and renames a "..data" symlink over the old one
// (IN_MOVED_TO in the watched directory), while the visible files stay
// symlinks through "..data"; readers just re-open the paths.
class DirWatcher {
 public:
  struct Options {
    std::string dir;
    // Quiet time after the last event before `on_change` runs, so a burst
    // (a Secret update is several events) yields one call. A continuous
    // stream of events still yields a call every 10 debounce periods.
    absl::Duration debounce = absl::Milliseconds(100);
    // When the directory is missing or its watch is lost (deleted,
    // unmounted), how often to try to watch it again. Re-acquiring a lost
    // watch counts as a change.
    absl::Duration rewatch_interval = absl::Seconds(1);
  };

  // Starts the watching thread. `on_change` runs on that thread. Fails only
  // when inotify itself is unavailable; a missing directory is retried.
  static absl::StatusOr<std::unique_ptr<DirWatcher>> Start(
      Options options, std::function<void()> on_change);

  // Stops and joins the thread; `on_change` is not running afterwards.
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

 private:
  DirWatcher(Options options, std::function<void()> on_change,
             int inotify_fd, int stop_fd);
  void Run(int initial_wd);

  const Options options_;
  const std::function<void()> on_change_;
  const int inotify_fd_;
  const int stop_fd_;
  std::thread thread_;
};

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_FILES_INTERNAL_DIR_WATCHER_H_
