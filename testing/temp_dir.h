#ifndef VAULTCA_TESTING_TEMP_DIR_H_
#define VAULTCA_TESTING_TEMP_DIR_H_

// Scratch directories, test files written atomically (with the production
// writer, common/atomic_file.h), and Kubernetes-style file publishing.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace testkit {

// Creates a fresh directory under the test's temp dir; aborts on failure,
// since no test can go on without it.
std::string MakeTempDir(absl::string_view prefix);

// Writes `path` atomically (temp + rename) with `mode`.
absl::Status WriteTestFile(const std::string& path, absl::string_view contents,
                           int mode = 0644);

// Writes `contents` to <dir>/<name> atomically with mode 0600 (tokens,
// keys, policies handed to a CLI) and returns the path.
absl::StatusOr<std::string> WriteFileIn(absl::string_view dir,
                                        absl::string_view name,
                                        absl::string_view contents);

// Publishes `files` (name -> contents) into `dir` the way the kubelet's
// AtomicWriter updates a Secret volume: a new timestamped "..<ts>"
// directory, a "..data_tmp" symlink to it renamed over "..data", each
// visible name a symlink "name -> ..data/name", then the old timestamped
// directory removed. Visible names not in `files` are removed.
absl::Status PublishLikeKubelet(const std::string& dir,
                                const std::map<std::string, std::string>& files);

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_TEMP_DIR_H_
