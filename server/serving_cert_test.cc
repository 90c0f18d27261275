#include "server/serving_cert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "ca/sources/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

ServingCertOptions Options(const std::string& dir) {
  ServingCertOptions options;
  options.dir = dir;
  options.dns_names = {"vaultca.istio-system.svc"};
  return options;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(ServingCertTest, CreatesAPrivateDirectoryAndKey) {
  const std::string dir = ca::testing::MakeTempDir("serving") + "/serving";
  auto cert = ServingCert::New(Options(dir));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf((*cert)->key_file()), 0600u);
}

TEST(ServingCertTest, AcceptsAnExistingPrivateDirectory) {
  const std::string dir = ca::testing::MakeTempDir("serving") + "/serving";
  ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
  auto cert = ServingCert::New(Options(dir));
  EXPECT_TRUE(cert.ok()) << cert.status();
}

// Whoever else can write the directory can swap the key or certificate
// gRPC reads, or plant a link where the key is written.
TEST(ServingCertTest, RefusesAGroupOrWorldWritableDirectory) {
  for (mode_t mode : {0770, 0707, 0777, 01777}) {
    const std::string dir = ca::testing::MakeTempDir("serving") + "/serving";
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
    auto cert = ServingCert::New(Options(dir));
    ASSERT_EQ(cert.status().code(), absl::StatusCode::kFailedPrecondition)
        << std::oct << mode << ": " << cert.status();
    EXPECT_THAT(cert.status().message(), HasSubstr(dir));
    EXPECT_THAT(cert.status().message(), HasSubstr("chmod 0700"));
  }
}

TEST(ServingCertTest, RefusesADirectoryOfAnotherUser) {
  const std::string dir = ca::testing::MakeTempDir("serving") + "/serving";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  if (::chown(dir.c_str(), 12345, 12345) != 0) {
    // Unprivileged, or root in a user namespace without that uid mapped.
    GTEST_SKIP() << "cannot chown: " << std::strerror(errno);
  }
  auto cert = ServingCert::New(Options(dir));
  ASSERT_EQ(cert.status().code(), absl::StatusCode::kFailedPrecondition)
      << cert.status();
  EXPECT_THAT(cert.status().message(), HasSubstr(dir));
  EXPECT_THAT(cert.status().message(), HasSubstr("owned by uid 12345"));
  EXPECT_THAT(cert.status().message(), HasSubstr("chown"));
}

TEST(ServingCertTest, RefusesAFileInPlaceOfTheDirectory) {
  const std::string dir = ca::testing::MakeTempDir("serving");
  ASSERT_TRUE(ca::testing::WriteTestFile(dir + "/serving", "x").ok());
  auto cert = ServingCert::New(Options(dir + "/serving"));
  EXPECT_FALSE(cert.ok());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
