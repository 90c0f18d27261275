#include "vault/internal/vault_errors.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

using ::testing::HasSubstr;

TEST(VaultErrorsTest, Mapping) {
  using C = absl::StatusCode;
  const std::pair<int, C> cases[] = {
      {400, C::kInvalidArgument},   {401, C::kUnauthenticated},
      {403, C::kPermissionDenied},  {404, C::kNotFound},
      {405, C::kUnimplemented},     {412, C::kFailedPrecondition},
      {418, C::kInvalidArgument},   {429, C::kResourceExhausted},
      {500, C::kInternal},          {501, C::kFailedPrecondition},
      {502, C::kUnavailable},       {503, C::kUnavailable},
      {504, C::kUnavailable},       {599, C::kUnavailable},
      {302, C::kUnknown}};
  for (const auto& [http, code] : cases) {
    EXPECT_EQ(HttpStatusToCode(http), code) << http;
  }
}

TEST(VaultErrorsTest, MessageCarriesErrorsArrayAndHint) {
  absl::Status s = HttpErrorToStatus(
      503, "GET secret/data/x", R"({"errors":["Vault is sealed"]})");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("GET secret/data/x"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("HTTP 503"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Vault is sealed"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("unseal"));
}

TEST(VaultErrorsTest, SeveralErrorsJoined) {
  EXPECT_EQ(VaultErrorMessages(R"({"errors":["a","b",3]})"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(VaultErrorMessages("<html>").empty());
  EXPECT_TRUE(VaultErrorMessages(R"({"errors":"x"})").empty());
}

TEST(VaultErrorsTest, LongErrorsAreTruncated) {
  const std::string body = R"({"errors":[")" + std::string(5000, 'e') + R"("]})";
  absl::Status s = HttpErrorToStatus(400, "POST x", body);
  EXPECT_LT(s.message().size(), 1300u);
}

}  // namespace
}  // namespace internal
}  // namespace vault
}  // namespace vaultca
