#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const KeyCertBundle> Bundle(const CaMaterialPem& material) {
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> bundle =
      KeyCertBundle::Create(material);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

// Cross-checks with the openssl command line tool, which shares no code
// path with the generator beyond libcrypto's DER parser.
class OpenSslCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/openssl", X_OK) != 0) {
      GTEST_SKIP() << "/usr/bin/openssl not installed";
    }
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp",
                                       "/generate_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::string command = absl::StrCat("rm -rf '", dir_, "'");
      EXPECT_EQ(system(command.c_str()), 0);
    }
  }

  std::string Write(const std::string& name, const std::string& contents) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << contents;
    return path;
  }

  // Runs /usr/bin/openssl with `args`, returning its exit status and
  // combined output.
  int Run(const std::string& args, std::string* output) {
    std::string command = absl::StrCat("/usr/bin/openssl ", args, " 2>&1");
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return -1;
    char buf[4096];
    size_t n;
    output->clear();
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string dir_;
};

TEST_F(OpenSslCliTest, ParsesRootsAsCas) {
  for (KeyType type : {KeyType::kRsa, KeyType::kEcP384, KeyType::kEd25519}) {
    SCOPED_TRACE(KeyTypeName(type));
    // The CLI checks validity against the real clock.
    RootOptions options;
    options.key_pem = testkit::CachedKeyPem(type);
    absl::StatusOr<CaMaterialPem> root = GenerateSelfSignedRoot(options);
    ASSERT_TRUE(root.ok()) << root.status();
    std::string path = Write("root.pem", root->cert_pem);
    std::string text;
    ASSERT_EQ(Run(absl::StrCat("x509 -noout -text -in ", path), &text), 0)
        << text;
    EXPECT_THAT(text, HasSubstr("CA:TRUE"));
    EXPECT_THAT(text, HasSubstr("Certificate Sign, CRL Sign"));
    EXPECT_THAT(text, HasSubstr("Subject: O = cluster.local"));
    EXPECT_THAT(text, HasSubstr("X509v3 Subject Key Identifier"));

    std::string serial;
    ASSERT_EQ(Run(absl::StrCat("x509 -noout -serial -in ", path), &serial), 0);
    std::shared_ptr<const KeyCertBundle> bundle = Bundle(*root);
    ASSERT_NE(bundle, nullptr);
    std::string cli_serial = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(absl::StripPrefix(serial, "serial=")));
    // The CLI and serial_hex() may pad with a leading zero nibble
    // differently (a serial is a number): compare without leading zeros.
    std::string ours = bundle->serial_hex();
    cli_serial.erase(0, cli_serial.find_first_not_of('0'));
    ours.erase(0, ours.find_first_not_of('0'));
    EXPECT_EQ(cli_serial, ours);

    std::string fingerprint;
    ASSERT_EQ(Run(absl::StrCat("x509 -noout -fingerprint -sha256 -in ", path),
                  &fingerprint),
              0);
    EXPECT_THAT(absl::AsciiStrToLower(absl::StrReplaceAll(fingerprint,
                                                          {{":", ""}})),
                HasSubstr(bundle->root_fingerprints()[0]));
  }
}

TEST_F(OpenSslCliTest, VerifiesIntermediateAgainstItsRootOnly) {
  RootOptions root_options;
  root_options.key_pem = testkit::CachedKeyPem(KeyType::kRsa);
  absl::StatusOr<CaMaterialPem> root = GenerateSelfSignedRoot(root_options);
  ASSERT_TRUE(root.ok()) << root.status();
  std::shared_ptr<const KeyCertBundle> parent = Bundle(*root);
  ASSERT_NE(parent, nullptr);
  IntermediateOptions options;
  options.key_pem = testkit::CachedKeyPem(KeyType::kEcP256);
  absl::StatusOr<CaMaterialPem> intermediate =
      GenerateIntermediate(*parent, options);
  ASSERT_TRUE(intermediate.ok()) << intermediate.status();

  std::string root_path = Write("root.pem", root->cert_pem);
  std::string int_path = Write("intermediate.pem", intermediate->cert_pem);
  std::string output;
  EXPECT_EQ(Run(absl::StrCat("verify -CAfile ", root_path, " ", int_path),
                &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr(": OK"));

  // The same check fails against an unrelated root: the test can fail.
  root_options.key_pem = testkit::CachedKeyPem(KeyType::kRsa, 1);
  absl::StatusOr<CaMaterialPem> other = GenerateSelfSignedRoot(root_options);
  ASSERT_TRUE(other.ok()) << other.status();
  std::string other_path = Write("other.pem", other->cert_pem);
  EXPECT_NE(Run(absl::StrCat("verify -CAfile ", other_path, " ", int_path),
                &output),
            0)
      << output;
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
