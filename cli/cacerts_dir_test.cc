#include "cli/cacerts_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "ca/sources/files/files_source.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;

std::string Link(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CacertsDirTest, WritesLikeKubeletAndIstiodsFilesSourceReadsIt) {
  const std::string dir = testkit::MakeTempDir("cacerts") + "/cacerts";
  auto target = CacertsDir::New(dir);
  auto empty = target->Read();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->has_value());

  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  const ca::CaMaterialPem first = testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 0);
  ASSERT_TRUE(target->Write(CacertsEntries(first)).ok());
  const std::string v1 = Link(dir + "/..data");
  EXPECT_EQ(v1.rfind("..", 0), 0u) << v1;
  for (const char* name : {kCaCertFile, kCaKeyFile, kCertChainFile, kRootCertFile}) {
    EXPECT_EQ(Link(absl::StrCat(dir, "/", name)), absl::StrCat("..data/", name));
  }
  struct stat st;
  ASSERT_EQ(stat((dir + "/ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(Slurp(dir + "/ca-cert.pem"), first.cert_pem);
  EXPECT_EQ(access((dir + "/..data_tmp").c_str(), F_OK), -1);

  // The server's own files source (istiod's cacerts layout) reads it back.
  ca::FilesSourceOptions options;
  options.dir = dir;
  options.watch = false;
  auto source = ca::FilesSource::New(options);
  ASSERT_TRUE(source.ok()) << source.status();
  auto fetched = (*source)->Fetch();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->cert_pem, first.cert_pem);
  EXPECT_EQ(fetched->key_pem.view(), first.key_pem.view());

  // A second version replaces the first in one swap; the old one is gone.
  const ca::CaMaterialPem second = testkit::Intermediate(root, ca::KeyType::kEcP256, absl::Now(), 1);
  ASSERT_TRUE(target->Write(CacertsEntries(second)).ok());
  const std::string v2 = Link(dir + "/..data");
  EXPECT_NE(v1, v2);
  EXPECT_EQ(access((dir + "/" + v1).c_str(), F_OK), -1);
  auto read = target->Read();
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((**read).at(kCaCertFile).view(), second.cert_pem);
}

TEST(CacertsDirTest, RefusesADirectoryOfPlainFiles) {
  const std::string dir = testkit::MakeTempDir("plain");
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/ca-cert.pem", "x").ok());
  auto target = CacertsDir::New(dir);
  absl::Status s = target->Write(CacertsEntries(testkit::Root(ca::KeyType::kEcP256)));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("ca-cert.pem is a regular file"));
  EXPECT_EQ(Slurp(dir + "/ca-cert.pem"), "x");
}

TEST(CacertsDirTest, CertChainOfASelfSignedRootIsTheRootItself) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kEcP256);
  auto entries = CacertsEntries(root);
  EXPECT_EQ(entries.at(kCertChainFile).view(), root.cert_pem);
  auto back = MaterialFromEntries(entries);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->root_bundle_pem, root.root_bundle_pem);
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
