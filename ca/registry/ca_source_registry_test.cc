#include "ca/registry/ca_source_registry.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "ca/registry/builtin_ca_sources.h"
#include "ca/sources/files/files_factory.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "ca/vault_pki/vault_pki_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A factory whose name and block are chosen by the test.
class NamedFactory : public TypedCaSourceFactory<FilesSourceConfig> {
 public:
  NamedFactory(std::string name, std::string key)
      : name_(std::move(name)), key_(std::move(key)) {}
  absl::string_view name() const override { return name_; }
  absl::string_view config_key() const override { return key_; }

 protected:
  void ReadOptions(ConfigBlock&, FilesSourceConfig*) const override {}
  void ReadEnvironmentOptions(EnvironmentBlock&,
                              FilesSourceConfig*) const override {}
  absl::Status ValidateOptions(const FilesSourceConfig&) const override {
    return absl::OkStatus();
  }
  std::string DescribeOptions(const FilesSourceConfig&) const override {
    return name_;
  }
  absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CreateCa(
      const FilesSourceConfig&, const CaSourceContext&) const override {
    return absl::UnimplementedError("not for signing");
  }

 private:
  const std::string name_;
  const std::string key_;
};

std::vector<std::string> Names(const CaSourceRegistry& registry) {
  std::vector<std::string> names;
  for (const CaSourceFactory* f : registry.factories()) {
    names.emplace_back(f->name());
  }
  return names;
}

TEST(CaSourceRegistryTest, BuiltinsInDocumentedOrder) {
  EXPECT_THAT(Names(DefaultCaSources()),
              ElementsAre("self-signed", "files", "vault", "vault-pki"));
  EXPECT_TRUE(DefaultCaSources().Find("vault-pki")->signs_remotely());
  EXPECT_FALSE(DefaultCaSources().Find("vault")->signs_remotely());
}

TEST(CaSourceRegistryTest, FindsByNameAliasAnyCase) {
  const CaSourceRegistry& registry = DefaultCaSources();
  ASSERT_NE(registry.Find("self-signed"), nullptr);
  EXPECT_EQ(registry.Find("SelfSigned"), registry.Find("self-signed"));
  EXPECT_EQ(registry.Find("FILES")->config_key(), "files");
  EXPECT_EQ(registry.Find("vault_pki"), nullptr);
  EXPECT_EQ(registry.Find(""), nullptr);
}

TEST(CaSourceRegistryTest, UnknownNameListsTheRegisteredOnes) {
  auto found = DefaultCaSources().Lookup("ca.source", "vault_pki");
  ASSERT_EQ(found.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(found.status().message(),
            "ca.source='vault_pki' is invalid: expected self-signed, files, "
            "vault or vault-pki");

  CaSourceRegistry empty;
  EXPECT_THAT(empty.Lookup("ca.source", "x").status().message(),
              HasSubstr("none is registered"));
  ASSERT_TRUE(
      empty.Register(std::make_unique<NamedFactory>("one", "one")).ok());
  EXPECT_THAT(empty.Lookup("ca.source", "x").status().message(),
              HasSubstr("expected one"));
}

TEST(CaSourceRegistryTest, RefusesTakenNamesAndBlocks) {
  CaSourceRegistry registry;
  ASSERT_TRUE(
      registry.Register(std::make_unique<SelfSignedSourceFactory>()).ok());
  EXPECT_EQ(
      registry.Register(std::make_unique<NamedFactory>("Self-Signed", "x"))
          .code(),
      absl::StatusCode::kAlreadyExists);
  // An alias of a registered source is taken too.
  EXPECT_EQ(
      registry.Register(std::make_unique<NamedFactory>("selfsigned", "y"))
          .code(),
      absl::StatusCode::kAlreadyExists);
  absl::Status block =
      registry.Register(std::make_unique<NamedFactory>("other", "self_signed"));
  EXPECT_EQ(block.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(block.message(), HasSubstr("ca.self_signed"));
  EXPECT_EQ(registry.Register(std::make_unique<NamedFactory>("", "z")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register(std::make_unique<NamedFactory>("z", "")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register(nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Names(registry), ElementsAre("self-signed"));
}

TEST(CaSourceOptionsTest, DefaultsUntilSetAndCopiesByValue) {
  CaSourceOptions options;
  EXPECT_EQ(options.Get<FilesSourceConfig>().dir, "/etc/cacerts");
  EXPECT_EQ(options.Get<VaultPkiConfig>().endpoint, "sign");
  options.Mutable<FilesSourceConfig>().dir = "/a";
  CaSourceOptions copy = options;
  copy.Mutable<FilesSourceConfig>().dir = "/b";
  EXPECT_EQ(options.Get<FilesSourceConfig>().dir, "/a");
  EXPECT_EQ(copy.Get<FilesSourceConfig>().dir, "/b");
  // Another type is untouched.
  EXPECT_EQ(copy.Get<SelfSignedSourceConfig>().state_dir,
            "/var/lib/vaultca/self-signed");
}

TEST(CaSourceFactoryTest, BuiltinChecksNameTheOption) {
  CaSourceOptions options;
  const CaSourceFactory* files = DefaultCaSources().Find("files");
  EXPECT_TRUE(files->Validate(options).ok());
  EXPECT_EQ(files->Describe(options), "files:/etc/cacerts");
  options.Mutable<FilesSourceConfig>().dir = "";
  absl::Status s = files->Validate(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "configuration option ca.files.dir (ROOT_CA_DIR): must name a "
            "directory");
  // The files source is not at fault when another source's block is bad.
  options.Mutable<VaultPkiConfig>().endpoint = "issue";
  EXPECT_THAT(DefaultCaSources().Find("vault-pki")->Validate(options).message(),
              HasSubstr("ca.vault_pki.endpoint"));
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
