#ifndef VAULTCA_CA_SOURCES_INTERNAL_FILE_IO_H_
#define VAULTCA_CA_SOURCES_INTERNAL_FILE_IO_H_

// Small POSIX file helpers for the file-backed CA material sources.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/atomic_file.h"
#include "common/secret_data.h"

namespace vaultca {
namespace ca {
namespace internal {

// Files larger than this are refused: no CA file is anywhere near it, and
// it bounds what a wrong path (a device, a log file) can make us read.
inline constexpr size_t kMaxCaFileBytes = 1 << 20;

// Returns true when `path` exists (following symlinks). Errors other than
// "does not exist" count as existing, so the read that follows reports them.
bool FileExists(const std::string& path);

// Reads the whole file at `path`, following symlinks. NotFound when it does
// not exist, PermissionDenied when unreadable, FailedPrecondition when it
// is larger than kMaxCaFileBytes; each message names the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// As ReadFile, straight into a wiping buffer: the bytes never pass through
// a std::string.
absl::StatusOr<SecretData> ReadSecretFile(const std::string& path);

// The one atomic writer, shared with the server and the tests.
using ::vaultca::WriteFileAtomically;

// Creates `dir` (one level) with `mode` unless it exists as a directory.
absl::Status EnsureDirectory(const std::string& dir, int mode);

}  // namespace internal
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_INTERNAL_FILE_IO_H_
