#include "server/internal/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int err = errno;
  const std::string message =
      absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  return absl::FailedPreconditionError(message);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string out;
  char buf[8192];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is larger than ", max_bytes, " bytes; is it the right file?"));
    }
  }
  return out;
}

absl::StatusOr<std::string> FileStamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Errno("cannot stat", path);
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                      st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

absl::Status MakeDirectories(const std::string& dir, mode_t mode) {
  if (dir.empty()) return absl::InvalidArgumentError("empty directory path");
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " exists and is not a directory"));
  }
  const std::string parent = DirName(dir);
  if (parent != dir && parent != "/" && parent != ".") {
    if (absl::Status s = MakeDirectories(parent, mode); !s.ok()) return s;
  }
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Errno("cannot create directory", dir);
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
