
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace testkit {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(TempDirTest, EachCallMakesANewEmptyDirectory) {
  const std::string a = MakeTempDir("kit");
  const std::string b = MakeTempDir("kit");
  EXPECT_NE(a, b);
  struct stat st;
  ASSERT_EQ(::stat(a.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(TempDirTest, WriteTestFileReplacesWithMode) {
  const std::string path = MakeTempDir("kit") + "/f";
  ASSERT_TRUE(WriteTestFile(path, "one").ok());
  ASSERT_TRUE(WriteTestFile(path, "two", 0600).ok());
  EXPECT_EQ(Slurp(path), "two");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(TempDirTest, WriteFileInReturnsThePathOfAPrivateFile) {
  const std::string dir = MakeTempDir("kit");
  absl::StatusOr<std::string> path = WriteFileIn(dir, "token", "s.x");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir + "/token");
  EXPECT_EQ(Slurp(*path), "s.x");
  struct stat st;
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(WriteFileIn(dir + "/missing", "t", "x").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TempDirTest, PublishLikeKubeletSwapsTheDataLinkAndDropsOldFiles) {
  const std::string dir = MakeTempDir("kit");
  ASSERT_TRUE(PublishLikeKubelet(dir, {{"tls.crt", "c1"}, {"tls.key", "k1"}}).ok());
  EXPECT_EQ(Slurp(dir + "/tls.crt"), "c1");
  char target[256];
  const ssize_t n = ::readlink((dir + "/tls.crt").c_str(), target, sizeof(target));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, n), "..data/tls.crt");
  ASSERT_TRUE(PublishLikeKubelet(dir, {{"tls.crt", "c2"}}).ok());
  EXPECT_EQ(Slurp(dir + "/tls.crt"), "c2");
  struct stat st;
  EXPECT_NE(::lstat((dir + "/tls.key").c_str(), &st), 0);
}

}  // namespace
}  // namespace testkit
}  // namespace vaultca
