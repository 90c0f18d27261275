#include "server/serving_cert.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
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

// The certificate gRPC presents must not double as a client certificate:
// with it (or its key, which sits on disk), a caller could authenticate to
// a mesh CA as the server's DNS names.
TEST(ServingCertTest, CertificateIsForServerAuthenticationOnly) {
  auto bundle = ca::KeyCertBundle::Create(testkit::Root());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto local = ca::LocalCertificateAuthority::New(*bundle);
  ASSERT_TRUE(local.ok()) << local.status();
  const std::string dir = testkit::MakeTempDir("serving") + "/serving";
  ServingCertOptions options = Options(dir);
  options.dns_names = {"vaultca.istio-system.svc", "localhost", "127.0.0.1"};
  auto cert = ServingCert::New(options);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto refreshed = (*cert)->Refresh(**local, *bundle);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();

  std::ifstream in((*cert)->cert_file());
  std::stringstream pem;
  pem << in.rdbuf();
  const std::string text = pem.str();
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(leaf, nullptr);
  auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(leaf, NID_ext_key_usage, nullptr, nullptr));
  ASSERT_NE(eku, nullptr);
  std::vector<int> usages;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
    usages.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)));
  }
  EXTENDED_KEY_USAGE_free(eku);
  EXPECT_EQ(usages, std::vector<int>{NID_server_auth});
  EXPECT_EQ(X509_check_host(leaf, "vaultca.istio-system.svc", 0, 0, nullptr),
            1);
  EXPECT_EQ(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
  // Valid now, for at most the requested day.
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(leaf)), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(leaf)), 0);
  EXPECT_LE((*cert)->not_after(), absl::Now() + absl::Hours(24));
  EXPECT_GT((*cert)->not_after(), absl::Now() + absl::Hours(23));
  X509_free(leaf);
}

TEST(ServingCertTest, CreatesAPrivateDirectoryAndKey) {
  const std::string dir = testkit::MakeTempDir("serving") + "/serving";
  auto cert = ServingCert::New(Options(dir));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf((*cert)->key_file()), 0600u);
}

TEST(ServingCertTest, AcceptsAnExistingPrivateDirectory) {
  const std::string dir = testkit::MakeTempDir("serving") + "/serving";
  ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
  auto cert = ServingCert::New(Options(dir));
  EXPECT_TRUE(cert.ok()) << cert.status();
}

// Whoever else can write the directory can swap the key or certificate
// gRPC reads, or plant a link where the key is written.
TEST(ServingCertTest, RefusesAGroupOrWorldWritableDirectory) {
  for (mode_t mode : {0770, 0707, 0777, 01777}) {
    const std::string dir = testkit::MakeTempDir("serving") + "/serving";
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
  const std::string dir = testkit::MakeTempDir("serving") + "/serving";
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
  const std::string dir = testkit::MakeTempDir("serving");
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/serving", "x").ok());
  auto cert = ServingCert::New(Options(dir + "/serving"));
  EXPECT_FALSE(cert.ok());
}

}  // namespace
}  // namespace server
}  // namespace vaultca
