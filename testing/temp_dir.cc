#include "testing/temp_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"

namespace vaultca {
namespace testkit {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(errno)));
}

// Reads the target of dir/..data, or "" when there is none.
std::string CurrentDataDir(const std::string& dir) {
  char target[4096];
  const ssize_t n =
      ::readlink((dir + "/..data").c_str(), target, sizeof(target) - 1);
  if (n <= 0) return "";
  return std::string(target, static_cast<size_t>(n));
}

// Removes a flat directory of files, as the kubelet drops an old
// timestamped directory.
absl::Status RemoveFlatDir(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return Errno("opendir", dir);
  while (struct dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    ::unlink(absl::StrCat(dir, "/", name).c_str());
  }
  ::closedir(handle);
  if (::rmdir(dir.c_str()) != 0) return Errno("rmdir", dir);
  return absl::OkStatus();
}

}  // namespace

std::string MakeTempDir(absl::string_view prefix) {
  std::string tmpl = absl::StrCat(::testing::TempDir(), "/", prefix, "_XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    fprintf(stderr, "mkdtemp %s: %s\n", tmpl.c_str(), strerror(errno));
    std::abort();
  }
  return tmpl;
}

absl::Status WriteTestFile(const std::string& path, absl::string_view contents,
                           int mode) {
  return WriteFileAtomically(path, contents, mode);
}

absl::StatusOr<std::string> WriteFileIn(absl::string_view dir,
                                        absl::string_view name,
                                        absl::string_view contents) {
  std::string path = absl::StrCat(dir, "/", name);
  absl::Status status = WriteFileAtomically(path, contents, 0600);
  if (!status.ok()) return status;
  return path;
}

absl::Status PublishLikeKubelet(const std::string& dir,
                                const std::map<std::string, std::string>& files) {
  static std::atomic<int> counter{0};
  const std::string old_data = CurrentDataDir(dir);
  const std::string ts_name = absl::StrCat("..2024_01_01_00_00_00.", ++counter);
  const std::string ts_dir = absl::StrCat(dir, "/", ts_name);
  if (::mkdir(ts_dir.c_str(), 0755) != 0) return Errno("mkdir", ts_dir);
  for (const auto& [name, contents] : files) {
    absl::Status s =
        WriteFileAtomically(absl::StrCat(ts_dir, "/", name), contents, 0644);
    if (!s.ok()) return s;
  }
  const std::string tmp_link = dir + "/..data_tmp";
  ::unlink(tmp_link.c_str());
  if (::symlink(ts_name.c_str(), tmp_link.c_str()) != 0) {
    return Errno("symlink", tmp_link);
  }
  if (::rename(tmp_link.c_str(), (dir + "/..data").c_str()) != 0) {
    return Errno("rename", tmp_link);
  }
  for (const auto& entry : files) {
    const std::string visible = absl::StrCat(dir, "/", entry.first);
    struct stat st;
    if (::lstat(visible.c_str(), &st) == 0) continue;
    const std::string target = absl::StrCat("..data/", entry.first);
    if (::symlink(target.c_str(), visible.c_str()) != 0) {
      return Errno("symlink", visible);
    }
  }
  for (const char* name : {"ca-cert.pem", "ca-key.pem", "cert-chain.pem",
                           "root-cert.pem", "tls.crt", "tls.key", "ca.crt"}) {
    if (files.count(name) == 0) ::unlink(absl::StrCat(dir, "/", name).c_str());
  }
  if (!old_data.empty()) return RemoveFlatDir(absl::StrCat(dir, "/", old_data));
  return absl::OkStatus();
}

}  // namespace testkit
}  // namespace vaultca
