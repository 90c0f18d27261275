#include "server/metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

TEST(ServerMetricsTest, RendersIstiodNamesWithCounts) {
  ServerMetrics metrics;
  for (int i = 0; i < 3; ++i) metrics.CsrReceived();
  metrics.AuthenticationFailed();
  metrics.SignFailed(SignError::kTtlError);
  metrics.SignFailed(SignError::kTtlError);
  metrics.CertIssued(absl::Microseconds(700));
  metrics.Rejected(Rejection::kOverload);

  CaMetricsSnapshot ca;
  ca.root_not_after = absl::FromUnixSeconds(2000000000);
  ca.chain_not_after = absl::FromUnixSeconds(1900000000);
  ca.ready = true;
  ca.refreshes = 7;
  ca.refresh_failures_fetch = 2;
  const std::string text = metrics.Render(ca);

  EXPECT_THAT(text, HasSubstr("# TYPE citadel_server_csr_count counter\n"
                              "citadel_server_csr_count 3\n"));
  EXPECT_THAT(text, HasSubstr("citadel_server_authentication_failure_count 1\n"));
  EXPECT_THAT(text,
              HasSubstr("citadel_server_csr_sign_err_count{error=\"TTLError\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("citadel_server_csr_sign_err_count{error=\"CSRError\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("citadel_server_success_cert_issuance_count 1\n"));
  EXPECT_THAT(text,
              HasSubstr("citadel_server_root_cert_expiry_timestamp 2000000000\n"));
  EXPECT_THAT(text,
              HasSubstr("citadel_server_cert_chain_expiry_timestamp 1900000000\n"));
  // 700 us falls in the 1 ms bucket, not the 0.5 ms one.
  EXPECT_THAT(text,
              HasSubstr("vaultca_sign_duration_seconds_bucket{le=\"0.0005\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("vaultca_sign_duration_seconds_bucket{le=\"0.001\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("vaultca_sign_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("vaultca_sign_duration_seconds_sum 0.0007"));
  EXPECT_THAT(text, HasSubstr("vaultca_sign_duration_seconds_count 1\n"));
  EXPECT_THAT(text,
              HasSubstr("vaultca_rejected_requests_total{reason=\"overload\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("vaultca_ca_refresh_total 7\n"));
  EXPECT_THAT(text, HasSubstr("vaultca_ca_refresh_failures_total{cause=\"fetch\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("vaultca_ca_ready 1\n"));
  // Unknown times render as 0, never as a huge negative number.
  EXPECT_THAT(text, HasSubstr("vaultca_serving_cert_expiry_timestamp 0\n"));
}

TEST(ServerMetricsTest, EveryLineIsWellFormed) {
  ServerMetrics metrics;
  const std::string text = metrics.Render({});
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = text.substr(start, end - start);
    if (line[0] != '#') {
      // name[{labels}] value
      EXPECT_THAT(line, ::testing::MatchesRegex(
                            "[a-z_]+(\\{[a-z]+=\"[^\"]*\"\\})? [-0-9.e+]+"))
          << line;
    }
    start = end + 1;
  }
}

}  // namespace
}  // namespace server
}  // namespace vaultca
