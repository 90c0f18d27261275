#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace vaultca {

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path) {
  const std::string message =
      absl::StrCat(what, " '", path, "': ", strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

namespace {

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "cannot fsync", path);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, int mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string tmp_template = absl::StrCat(path, ".tmp.XXXXXX");
  std::vector<char> tmp_path(tmp_template.begin(), tmp_template.end());
  tmp_path.push_back('\0');
  // mkstemp creates the file 0600; fchmod below only ever narrows or keeps.
  const int fd = ::mkostemp(tmp_path.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot create a temporary file in", dir);
  bool keep_tmp = false;
  absl::Cleanup remover = [&] {
    if (!keep_tmp) ::unlink(tmp_path.data());
  };
  absl::Cleanup closer = [fd] { ::close(fd); };
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    return ErrnoStatus(errno, "cannot chmod", tmp_path.data());
  }
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", tmp_path.data());
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "cannot fsync", tmp_path.data());
  if (::rename(tmp_path.data(), path.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot rename ", tmp_path.data(), " to"),
                       path);
  }
  keep_tmp = true;
  // Makes the rename itself durable.
  return FsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace vaultca
