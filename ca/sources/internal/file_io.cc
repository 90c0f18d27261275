#include "ca/sources/internal/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

// Reads all of `fd` into `out` (a std::string or a SecretData).
template <typename Buffer>
absl::Status ReadAll(int fd, const std::string& path, Buffer* out) {
  char chunk[4096];
  // The stack copy may hold key bytes: wipe it on every path out.
  absl::Cleanup wiper = [&chunk] {
    ::vaultca::internal::SecureWipe(chunk, sizeof(chunk));
  };
  size_t total = 0;
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read", path);
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (total > kMaxCaFileBytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("file '", path, "' is larger than ", kMaxCaFileBytes,
                       " bytes; it cannot be CA material"));
    }
    out->Append(absl::string_view(chunk, static_cast<size_t>(n)));
  }
  return absl::OkStatus();
}

struct StringAppender {
  std::string* text;
  void Append(absl::string_view more) { text->append(more.data(), more.size()); }
};

template <typename Buffer>
absl::Status ReadPath(const std::string& path, Buffer* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  absl::Cleanup closer = [fd] { ::close(fd); };
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", path, "' is not a regular file"));
  }
  return ReadAll(fd, path, out);
}

}  // namespace

bool FileExists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return true;
  return errno != ENOENT && errno != ENOTDIR;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::string text;
  StringAppender appender{&text};
  absl::Status status = ReadPath(path, &appender);
  if (!status.ok()) return status;
  return text;
}

absl::StatusOr<SecretData> ReadSecretFile(const std::string& path) {
  SecretData secret;
  absl::Status status = ReadPath(path, &secret);
  if (!status.ok()) return status;
  return secret;
}

absl::Status EnsureDirectory(const std::string& dir, int mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("'", dir, "' exists but is not a directory"));
  }
  if (::mkdir(dir.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create directory", dir);
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
