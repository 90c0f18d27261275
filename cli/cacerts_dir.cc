#include "cli/cacerts_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vaultca {
namespace cli {
namespace {

constexpr char kData[] = "..data";
constexpr char kDataTmp[] = "..data_tmp";
constexpr const char* kNames[] = {kCaCertFile, kCaKeyFile, kCertChainFile,
                                  kRootCertFile};

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status WriteFileSynced(const std::string& path, const SecretData& data,
                             mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno(absl::StrCat("cannot create ", path));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno(absl::StrCat("cannot write ", path));
      close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  // The mode asked for, whatever the umask.
  if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot sync ", path));
    close(fd);
    return s;
  }
  if (close(fd) != 0) return Errno(absl::StrCat("cannot close ", path));
  return absl::OkStatus();
}

absl::StatusOr<SecretData> ReadFileSecret(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot read ", path));
  SecretData out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno(absl::StrCat("cannot read ", path));
      close(fd);
      return s;
    }
    if (n == 0) break;
    out.Append(absl::string_view(buf, static_cast<size_t>(n)));
  }
  ::vaultca::internal::SecureWipe(buf, sizeof(buf));
  close(fd);
  return out;
}

void SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

void RemoveTree(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    unlink((dir + "/" + name).c_str());
  }
  closedir(d);
  rmdir(dir.c_str());
}

}  // namespace

std::unique_ptr<CacertsDir> CacertsDir::New(std::string dir,
                                            std::function<absl::Time()> clock) {
  if (!clock) clock = [] { return absl::Now(); };
  return std::unique_ptr<CacertsDir>(new CacertsDir(std::move(dir), std::move(clock)));
}

absl::Status CacertsDir::CheckVisibleNames() const {
  for (const char* name : kNames) {
    struct stat st;
    const std::string path = absl::StrCat(dir_, "/", name);
    if (lstat(path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is a regular file, not a link into ", kData,
          ": sync swaps the directory as kubelet does and will not replace "
          "it piecemeal; give --dir an empty directory (or a new one)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::map<std::string, SecretData>>> CacertsDir::Read() {
  if (absl::Status s = CheckVisibleNames(); !s.ok()) return s;
  struct stat st;
  const std::string data = absl::StrCat(dir_, "/", kData);
  if (lstat(data.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<std::map<std::string, SecretData>>();
    return Errno(absl::StrCat("cannot inspect ", data));
  }
  std::map<std::string, SecretData> entries;
  for (const char* name : kNames) {
    absl::StatusOr<SecretData> content = ReadFileSecret(absl::StrCat(data, "/", name));
    if (!content.ok()) return content.status();
    entries[name] = *std::move(content);
  }
  return std::optional<std::map<std::string, SecretData>>(std::move(entries));
}

absl::Status CacertsDir::Write(const std::map<std::string, SecretData>& entries) {
  if (mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Errno(absl::StrCat("cannot create ", dir_));
  }
  if (absl::Status s = CheckVisibleNames(); !s.ok()) return s;
  for (const char* name : kNames) {
    if (entries.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("no ", name, " to write"));
    }
  }
  // The new version, complete and synced before anyone can see it.
  // kubelet's naming: ..<UTC time>.<random>.
  const std::string pattern = absl::StrCat(
      dir_, "/..", absl::FormatTime("%Y_%m_%d_%H_%M_%S", clock_(), absl::UTCTimeZone()),
      ".XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return Errno(absl::StrCat("cannot create a directory in ", dir_));
  const std::string version_dir(buf.data());
  chmod(version_dir.c_str(), 0755);
  const std::string version_name = version_dir.substr(dir_.size() + 1);
  for (const char* name : kNames) {
    const mode_t mode = std::strcmp(name, kCaKeyFile) == 0 ? 0600 : 0644;
    if (absl::Status s = WriteFileSynced(absl::StrCat(version_dir, "/", name),
                                         entries.at(name), mode);
        !s.ok()) {
      RemoveTree(version_dir);
      return s;
    }
  }
  SyncDir(version_dir);

  // Remember what ..data pointed at, to remove it after the swap.
  char old_target[4096];
  const std::string data = absl::StrCat(dir_, "/", kData);
  const ssize_t old_len = readlink(data.c_str(), old_target, sizeof(old_target) - 1);
  const std::string old_name = old_len > 0 ? std::string(old_target, old_len) : "";

  // The swap: one rename makes the whole new version visible.
  const std::string tmp = absl::StrCat(dir_, "/", kDataTmp);
  unlink(tmp.c_str());
  if (symlink(version_name.c_str(), tmp.c_str()) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot link ", tmp));
    RemoveTree(version_dir);
    return s;
  }
  if (rename(tmp.c_str(), data.c_str()) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot rename ", tmp, " over ", data));
    unlink(tmp.c_str());
    RemoveTree(version_dir);
    return s;
  }
  for (const char* name : kNames) {
    const std::string visible = absl::StrCat(dir_, "/", name);
    if (symlink(absl::StrCat(kData, "/", name).c_str(), visible.c_str()) != 0 &&
        errno != EEXIST) {
      return Errno(absl::StrCat("cannot link ", visible));
    }
  }
  SyncDir(dir_);
  if (!old_name.empty() && old_name != version_name &&
      old_name.find('/') == std::string::npos && old_name.rfind("..", 0) == 0) {
    RemoveTree(absl::StrCat(dir_, "/", old_name));
  }
  return absl::OkStatus();
}

}  // namespace cli
}  // namespace vaultca
