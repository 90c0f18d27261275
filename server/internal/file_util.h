#ifndef VAULTCA_SERVER_INTERNAL_FILE_UTIL_H_
#define VAULTCA_SERVER_INTERNAL_FILE_UTIL_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/atomic_file.h"

namespace vaultca {
namespace server {
namespace internal {

// Reads the whole file, refusing files larger than `max_bytes`. NotFound
// when it does not exist, FailedPrecondition for other read errors; the
// message names the path.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes = 1 << 20);

// Returns a string that changes whenever the file at `path` is replaced or
// modified (device, inode, size, mtime), following symlinks.
absl::StatusOr<std::string> FileStamp(const std::string& path);

// The one atomic writer, shared with the CA sources and the tests.
using ::vaultca::WriteFileAtomically;

// Creates `dir` (and missing parents) with permissions `mode`; an existing
// directory is accepted as is.
absl::Status MakeDirectories(const std::string& dir, mode_t mode);

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_FILE_UTIL_H_
