#ifndef VAULTCA_CA_SOURCES_TESTING_TEMP_DIR_H_
#define VAULTCA_CA_SOURCES_TESTING_TEMP_DIR_H_

// Scratch directories and Kubernetes-style file publishing for source tests.

#include <map>
#include <string>

#include "absl/status/status.h"

namespace vaultca {
namespace ca {
namespace testing {

// Creates a fresh directory under the test's temp dir; aborts on failure.
std::string MakeTempDir(const std::string& prefix);

// Writes `path` atomically (temp + rename) with `mode`.
absl::Status WriteTestFile(const std::string& path, const std::string& contents,
                           int mode = 0644);

// Publishes `files` (name -> contents) into `dir` the way the kubelet's
// AtomicWriter updates a Secret volume: a new timestamped "..<ts>"
// directory, a "..data_tmp" symlink to it renamed over "..data", each
// visible name a symlink "name -> ..data/name", then the old timestamped
// directory removed. Visible names not in `files` are removed.
absl::Status PublishLikeKubelet(const std::string& dir,
                                const std::map<std::string, std::string>& files);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_TESTING_TEMP_DIR_H_
