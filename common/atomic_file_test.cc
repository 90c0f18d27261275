#include "common/atomic_file.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace vaultca {
namespace {

std::string NewDir() {
  std::string tmpl = ::testing::TempDir() + "/atomic_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(AtomicFileTest, ReplacesContentsWithTheGivenMode) {
  const std::string path = NewDir() + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "first", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second", 0600).ok());
  EXPECT_EQ(Slurp(path), "second");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFileTest, MissingDirectoryIsNotFoundAndNamesThePath) {
  const std::string path = NewDir() + "/missing/f";
  const absl::Status status = WriteFileAtomically(path, "x", 0600);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find("missing"), std::string::npos) << status;
}

}  // namespace
}  // namespace vaultca
