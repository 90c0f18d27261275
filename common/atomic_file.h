#ifndef VAULTCA_COMMON_ATOMIC_FILE_H_
#define VAULTCA_COMMON_ATOMIC_FILE_H_

// Replacing a file so that readers see the old or the new bytes, never a
// mix: the one writer for CA files, serving certificates and tests.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vaultca {

// The status for a file call that failed with `err`: NotFound (ENOENT,
// ENOTDIR), PermissionDenied (EACCES, EPERM) or Internal, with a message
// "<what> '<path>': <strerror>".
absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path);

// Replaces `path` atomically with `contents` and permission bits `mode`:
// writes a temporary file in the same directory (created with `mode`, so
// the bytes are never readable by others even briefly), fsyncs it, renames
// it over `path` and fsyncs the directory. On failure the old file, if
// any, is intact and the temporary file is removed. NotFound when the
// directory does not exist, PermissionDenied when it is not writable; the
// message names the path.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, int mode);

}  // namespace vaultca

#endif  // VAULTCA_COMMON_ATOMIC_FILE_H_
