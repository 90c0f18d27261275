#ifndef VAULTCA_SERVER_METRICS_H_
#define VAULTCA_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vaultca {
namespace server {

// istiod's labels for citadel_server_csr_sign_err_count{error=...}.
enum class SignError {
  kCaNotReady,    // "CANotReady"
  kCsrError,      // "CSRError"
  kTtlError,      // "TTLError"
  kCertGenError,  // "CertGenError"
};

// Why a request was turned away before it was looked at.
enum class Rejection {
  kOverload,     // "overload": ResourceExhausted, concurrency limit.
  kCancelled,    // "cancelled": the caller gave up while queued.
  kShuttingDown, // "shutdown": arrived during the drain.
  kMalformed,    // "malformed": not a valid IstioCertificateRequest.
};

// What the CA looks like right now, sampled at each scrape.
struct CaMetricsSnapshot {
  bool has_material = false;
  bool ready = false;
  bool stale = false;
  absl::Time last_successful_refresh = absl::InfinitePast();
  absl::Time root_not_after = absl::InfinitePast();
  absl::Time chain_not_after = absl::InfinitePast();
  absl::Time serving_cert_not_after = absl::InfinitePast();
  // istiod's certificate in its Secret (mesh.istiod_certificate), as the
  // leader last checked it, and the Secret writes this replica made.
  absl::Time istiod_cert_not_after = absl::InfinitePast();
  int64_t istiod_cert_writes = 0;
  int64_t refreshes = 0;
  int64_t rotations = 0;
  int64_t refresh_failures_fetch = 0;
  int64_t refresh_failures_parse = 0;
  int64_t refresh_failures_validation = 0;
  int64_t refresh_failures_root_policy = 0;
};

// The server's Prometheus metrics, with istiod's names where istiod has
// one so existing dashboards keep working:
//   citadel_server_csr_count, citadel_server_authentication_failure_count,
//   citadel_server_csr_sign_err_count{error}, citadel_server_success_cert_
//   issuance_count, citadel_server_root_cert_expiry_timestamp,
//   citadel_server_cert_chain_expiry_timestamp;
// and vaultca's own: vaultca_sign_duration_seconds (histogram),
// vaultca_rejected_requests_total{reason}, vaultca_ca_refresh_total,
// vaultca_ca_refresh_failures_total{cause}, vaultca_ca_rotations_total,
// vaultca_ca_ready, vaultca_ca_material_stale,
// vaultca_ca_last_successful_refresh_timestamp,
// vaultca_serving_cert_expiry_timestamp,
// vaultca_istiod_cert_expiry_timestamp, vaultca_istiod_cert_writes_total.
// Recording is lock-free; thread-safe.
class ServerMetrics {
 public:
  ServerMetrics() = default;
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  void CsrReceived() { csr_count_.fetch_add(1, std::memory_order_relaxed); }
  void AuthenticationFailed() {
    auth_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  void SignFailed(SignError error) {
    sign_errors_[static_cast<int>(error)].fetch_add(1,
                                                    std::memory_order_relaxed);
  }
  // Records a certificate handed out and how long signing took.
  void CertIssued(absl::Duration sign_latency);
  void Rejected(Rejection reason) {
    rejections_[static_cast<int>(reason)].fetch_add(1,
                                                    std::memory_order_relaxed);
  }

  int64_t csr_count() const { return csr_count_.load(); }
  int64_t auth_failures() const { return auth_failures_.load(); }
  int64_t issued() const { return issued_.load(); }
  int64_t sign_errors(SignError error) const {
    return sign_errors_[static_cast<int>(error)].load();
  }
  int64_t rejections(Rejection reason) const {
    return rejections_[static_cast<int>(reason)].load();
  }

  // Renders every metric in the Prometheus text format 0.0.4.
  std::string Render(const CaMetricsSnapshot& ca) const;

  // Upper bounds (seconds) of the signing-latency histogram buckets.
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,   0.25,   0.5,   1,    2.5};

 private:
  std::atomic<int64_t> csr_count_{0};
  std::atomic<int64_t> auth_failures_{0};
  std::atomic<int64_t> issued_{0};
  std::array<std::atomic<int64_t>, 4> sign_errors_{};
  std::array<std::atomic<int64_t>, 4> rejections_{};
  // Cumulative counts per bucket, plus the +Inf bucket.
  std::array<std::atomic<int64_t>, kLatencyBuckets.size() + 1> buckets_{};
  std::atomic<int64_t> latency_sum_nanos_{0};
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_METRICS_H_
