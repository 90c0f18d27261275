#include "server/internal/request_headers.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Status Check(const std::vector<std::pair<std::string, std::string>>& h) {
  std::multimap<grpc::string_ref, grpc::string_ref> metadata;
  for (const auto& [name, value] : h) {
    metadata.emplace(grpc::string_ref(name), grpc::string_ref(value));
  }
  return CheckRequestHeaders(metadata);
}

TEST(RequestHeadersTest, WhatIstioAgentSendsPasses) {
  EXPECT_TRUE(Check({{"authorization", "Bearer eyJhbGciOi.eyJ.sig"},
                     {"clusterid", "Kubernetes"},
                     {"user-agent", "grpc-go/1.82.0"},
                     {"grpc-accept-encoding", "identity,deflate,gzip"},
                     {"x-tab", "a\tb"}})
                  .ok());
}

TEST(RequestHeadersTest, BytesAboveAsciiInValuesPass) {
  // obs-text is legal in HTTP field values; istiod's stack lets it through
  // too, and the authenticators refuse what they cannot read.
  EXPECT_TRUE(Check({{"authorization", "Bearer \xff\xfe\xc3\x28"}}).ok());
}

TEST(RequestHeadersTest, BinaryHeadersCarryAnyBytes) {
  EXPECT_TRUE(Check({{"x-trace-bin", std::string("\x00\x01\xff", 3)}}).ok());
}

TEST(RequestHeadersTest, MalformedNamesAreRefused) {
  for (const std::string name :
       {"X-Upper", "x-\xffk", "x k", "x:k", "", "x\"k", "x/k"}) {
    absl::Status s = Check({{name, "v"}});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("lower-case HTTP token")) << name;
  }
}

TEST(RequestHeadersTest, ControlCharactersInValuesAreRefused) {
  for (const std::string value : {std::string("a\x01"), std::string("a\nb"),
                                  std::string("a\x7f"),
                                  std::string("a\0b", 3)}) {
    absl::Status s = Check({{"clusterid", "Kubernetes"}, {"x-custom", value}});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("\"x-custom\""));
  }
}

TEST(RequestHeadersTest, MessagesEscapeAndTruncateTheName) {
  absl::Status s = Check({{std::string(200, 'A') + "\n", "v"}});
  EXPECT_THAT(s.message(), HasSubstr("..."));
  EXPECT_THAT(s.message(), Not(HasSubstr("\n")));
  EXPECT_LT(s.message().size(), 200u);
}

}  // namespace
}  // namespace internal
}  // namespace server
}  // namespace vaultca
