#include "ca/sources/internal/file_io.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "common/secret_data.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string tmpl = absl::StrCat(::testing::TempDir(), "/file_io_XXXXXX");
  char* dir = ::mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

TEST(FileIoTest, WritesAtomicallyWithModeAndReadsBack) {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/ca-key.pem";
  ASSERT_TRUE(WriteFileAtomically(path, "first", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second", 0600).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "second");
  auto secret = ReadSecretFile(path);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->view(), "second");
  // No temporary file is left behind.
  EXPECT_FALSE(FileExists(path + ".tmp"));
}

TEST(FileIoTest, ModeIsAppliedToNewAndReplacedFiles) {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/ca-cert.pem";
  ASSERT_TRUE(WriteFileAtomically(path, "x", 0644).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(FileIoTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = MakeTempDir() + "/nope.pem";
  EXPECT_FALSE(FileExists(path));
  auto text = ReadFile(path);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(text.status().message(), HasSubstr(path));
}

TEST(FileIoTest, DirectoryIsNotARegularFile) {
  const std::string dir = MakeTempDir();
  auto text = ReadFile(dir);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FileIoTest, OversizedFileIsRefused) {
  const std::string path = MakeTempDir() + "/big.pem";
  ASSERT_TRUE(
      WriteFileAtomically(path, std::string(kMaxCaFileBytes + 1, 'a'), 0644)
          .ok());
  auto secret = ReadSecretFile(path);
  ASSERT_FALSE(secret.ok());
  EXPECT_THAT(secret.status().message(), HasSubstr("larger than"));
}

TEST(FileIoTest, WriteIntoMissingDirectoryFails) {
  const std::string path = MakeTempDir() + "/missing/ca-key.pem";
  absl::Status status = WriteFileAtomically(path, "x", 0600);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("missing"));
}

TEST(FileIoTest, EnsureDirectoryCreatesOnceAndRejectsFiles) {
  const std::string base = MakeTempDir();
  ASSERT_TRUE(EnsureDirectory(base + "/state", 0700).ok());
  ASSERT_TRUE(EnsureDirectory(base + "/state", 0700).ok());
  struct stat st;
  ASSERT_EQ(::stat((base + "/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(WriteFileAtomically(base + "/file", "x", 0600).ok());
  EXPECT_EQ(EnsureDirectory(base + "/file", 0700).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace internal
}  // namespace ca
}  // namespace vaultca
