#include "server/metrics.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vaultca {
namespace server {
namespace {

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                  type, "\n");
}

// The shortest of %.15g..%.17g that reads back as the same double.
std::string FormatValue(double value) {
  for (int precision = 15; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

void Sample(std::string* out, absl::string_view name, double value,
            absl::string_view labels = "") {
  absl::StrAppend(out, name, labels.empty() ? "" : "{", labels,
                  labels.empty() ? "" : "}", " ",
                  FormatValue(value), "\n");
}

void Counter(std::string* out, absl::string_view name, absl::string_view help,
             int64_t value) {
  Header(out, name, "counter", help);
  Sample(out, name, static_cast<double>(value));
}

void Gauge(std::string* out, absl::string_view name, absl::string_view help,
           double value) {
  Header(out, name, "gauge", help);
  Sample(out, name, value);
}

// Unix seconds, or 0 when unknown.
double Timestamp(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return 0;
  return absl::ToDoubleSeconds(t - absl::UnixEpoch());
}

}  // namespace

void ServerMetrics::CertIssued(absl::Duration sign_latency) {
  issued_.fetch_add(1, std::memory_order_relaxed);
  const double seconds = absl::ToDoubleSeconds(sign_latency);
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_sum_nanos_.fetch_add(absl::ToInt64Nanoseconds(sign_latency),
                               std::memory_order_relaxed);
}

std::string ServerMetrics::Render(const CaMetricsSnapshot& ca) const {
  std::string out;
  Counter(&out, "citadel_server_csr_count",
          "The number of CSRs received by the CA server.", csr_count());
  Counter(&out, "citadel_server_authentication_failure_count",
          "The number of authentication failures.", auth_failures());
  Header(&out, "citadel_server_csr_sign_err_count", "counter",
         "The number of errors occurred when signing the CSR.");
  static constexpr const char* kSignErrorNames[] = {
      "CANotReady", "CSRError", "TTLError", "CertGenError"};
  for (int i = 0; i < 4; ++i) {
    Sample(&out, "citadel_server_csr_sign_err_count",
           static_cast<double>(sign_errors_[i].load()),
           absl::StrCat("error=\"", kSignErrorNames[i], "\""));
  }
  Counter(&out, "citadel_server_success_cert_issuance_count",
          "The number of certificates issuances that have succeeded.",
          issued());
  Gauge(&out, "citadel_server_root_cert_expiry_timestamp",
        "The unix timestamp, in seconds, when the root cert will expire.",
        Timestamp(ca.root_not_after));
  Gauge(&out, "citadel_server_cert_chain_expiry_timestamp",
        "The unix timestamp, in seconds, when the cert chain will expire.",
        Timestamp(ca.chain_not_after));

  Header(&out, "vaultca_sign_duration_seconds", "histogram",
         "Time to sign one workload certificate.");
  int64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += buckets_[i].load();
    Sample(&out, "vaultca_sign_duration_seconds_bucket",
           static_cast<double>(cumulative),
           absl::StrCat("le=\"", absl::StrFormat("%g", kLatencyBuckets[i]),
                        "\""));
  }
  cumulative += buckets_[kLatencyBuckets.size()].load();
  Sample(&out, "vaultca_sign_duration_seconds_bucket",
         static_cast<double>(cumulative), "le=\"+Inf\"");
  Sample(&out, "vaultca_sign_duration_seconds_sum",
         static_cast<double>(latency_sum_nanos_.load()) / 1e9);
  Sample(&out, "vaultca_sign_duration_seconds_count",
         static_cast<double>(cumulative));

  Header(&out, "vaultca_rejected_requests_total", "counter",
         "Requests turned away before authentication, by reason.");
  static constexpr const char* kRejectionNames[] = {"overload", "cancelled",
                                                    "shutdown", "malformed"};
  for (int i = 0; i < 4; ++i) {
    Sample(&out, "vaultca_rejected_requests_total",
           static_cast<double>(rejections_[i].load()),
           absl::StrCat("reason=\"", kRejectionNames[i], "\""));
  }

  Counter(&out, "vaultca_ca_refresh_total",
          "Attempts to refresh the CA material from its source.",
          ca.refreshes);
  Header(&out, "vaultca_ca_refresh_failures_total", "counter",
         "Failed CA material refreshes, by cause.");
  Sample(&out, "vaultca_ca_refresh_failures_total",
         static_cast<double>(ca.refresh_failures_fetch), "cause=\"fetch\"");
  Sample(&out, "vaultca_ca_refresh_failures_total",
         static_cast<double>(ca.refresh_failures_parse), "cause=\"parse\"");
  Sample(&out, "vaultca_ca_refresh_failures_total",
         static_cast<double>(ca.refresh_failures_validation),
         "cause=\"validation\"");
  Sample(&out, "vaultca_ca_refresh_failures_total",
         static_cast<double>(ca.refresh_failures_root_policy),
         "cause=\"root_policy\"");
  Counter(&out, "vaultca_ca_rotations_total",
          "CA material rotations since start.", ca.rotations);
  Gauge(&out, "vaultca_ca_ready", "1 when the CA can sign.", ca.ready ? 1 : 0);
  Gauge(&out, "vaultca_ca_material_stale",
        "1 when no refresh has confirmed the CA material for longer than "
        "max_staleness (signing goes on with it).",
        ca.stale ? 1 : 0);
  Gauge(&out, "vaultca_ca_last_successful_refresh_timestamp",
        "The unix timestamp, in seconds, of the last successful refresh of "
        "the CA material.",
        Timestamp(ca.last_successful_refresh));
  Gauge(&out, "vaultca_serving_cert_expiry_timestamp",
        "The unix timestamp, in seconds, when the gRPC serving certificate "
        "expires.",
        Timestamp(ca.serving_cert_not_after));
  Gauge(&out, "vaultca_istiod_cert_expiry_timestamp",
        "The unix timestamp, in seconds, when istiod's serving certificate "
        "in its Secret expires, as this replica last checked it (0: not "
        "checked here; only the leader checks).",
        Timestamp(ca.istiod_cert_not_after));
  Counter(&out, "vaultca_istiod_cert_writes_total",
          "Writes of istiod's certificate Secret by this replica.",
          ca.istiod_cert_writes);
  return out;
}

}  // namespace server
}  // namespace vaultca
