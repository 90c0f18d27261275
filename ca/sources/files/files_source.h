#ifndef VAULTCA_CA_SOURCES_FILES_FILES_SOURCE_H_
#define VAULTCA_CA_SOURCES_FILES_FILES_SOURCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/sources/material_source.h"
#include "common/sync.h"

namespace vaultca {
namespace ca {
namespace internal {
class DirWatcher;
}  // namespace internal

struct FilesSourceOptions {
  // The directory holding the CA files (istiod mounts Secret "cacerts" at
  // /etc/cacerts).
  std::string dir = "/etc/cacerts";
  // Watch `dir` with inotify once a change callback is set.
  bool watch = true;
  // Quiet time after the last file event before reporting a change.
  absl::Duration debounce = absl::Milliseconds(100);
  // Retry period for watching a directory that is missing or was removed.
  absl::Duration rewatch_interval = absl::Seconds(1);
};

// Reads CA material from an Istio "cacerts" directory, in either layout
// istiod accepts:
//  - Istio: ca-cert.pem (signing cert), ca-key.pem, cert-chain.pem,
//    root-cert.pem;
//  - kubernetes.io/tls, chosen when tls.crt exists: tls.crt (signing cert,
//    first block; may carry intermediates), tls.key, ca.crt (roots), with
//    chain = tls.crt followed by ca.crt.
// As istiod, all four roles (key, cert, chain, root) must be present: a
// partial set is an error naming the missing files. Files are read through
// symlinks on every Fetch, so Kubernetes' "..data" swap is followed.
class FilesSource : public MaterialSource {
 public:
  // Checks `options`; the directory itself is only read by Fetch.
  static absl::StatusOr<std::unique_ptr<FilesSource>> New(
      FilesSourceOptions options);

  ~FilesSource() override;

  // Reads the files. NotFound when the directory holds none of them,
  // FailedPrecondition when the set is partial; read errors name the file.
  absl::StatusOr<CaMaterialPem> Fetch() override;

  // "files:<dir>".
  std::string Description() const override;

  // Starts the inotify watcher on first use (debounced; see
  // FilesSourceOptions). Unimplemented when options.watch is false;
  // Unavailable when inotify cannot be used.
  absl::Status SetChangeCallback(std::function<void()> on_change) override;

 private:
  explicit FilesSource(FilesSourceOptions options);
  void NotifyChange();

  const FilesSourceOptions options_;

  // Held while the callback runs, so replacing it waits for a running call.
  Mutex callback_mu_;
  std::function<void()> callback_ ABSL_GUARDED_BY(callback_mu_);

  // Serialises watcher start-up; the watcher calls NotifyChange.
  Mutex watcher_mu_ ABSL_ACQUIRED_BEFORE(callback_mu_);
  std::unique_ptr<internal::DirWatcher> watcher_ ABSL_GUARDED_BY(watcher_mu_);
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_FILES_FILES_SOURCE_H_
