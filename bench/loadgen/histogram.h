#ifndef VAULTCA_BENCH_LOADGEN_HISTOGRAM_H_
#define VAULTCA_BENCH_LOADGEN_HISTOGRAM_H_

// A small HDR-style latency histogram: log-linear buckets (each power of two
// split into 64 linear sub-buckets, so any recorded value is known to within
// 1/64 = 1.6%), from 1 us to ~1 h. Record() is lock-free (relaxed atomics)
// because completions arrive on gRPC's threads and a mutex there would add
// to the latency being measured.

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace vaultca {
namespace bench {

class LatencyHistogram {
 public:
  LatencyHistogram();
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void Record(int64_t micros);
  // Adds other's counts into this one (not concurrent with Record on other).
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t Count() const;
  // Upper edge of the bucket holding quantile q in [0, 1], in microseconds;
  // 0 when empty.
  int64_t Quantile(double q) const;
  int64_t Max() const { return max_.load(std::memory_order_relaxed); }
  double Mean() const;
  // (latency_us, cumulative fraction) for every non-empty bucket: a CDF.
  std::vector<std::pair<int64_t, double>> Cdf() const;

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (32 - kSubBits + 1) * kSub;
  static int Index(int64_t micros);
  static int64_t UpperEdge(int index);

  std::array<std::atomic<uint64_t>, kBuckets> counts_;
  std::atomic<uint64_t> total_{0};
  std::atomic<int64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

}  // namespace bench
}  // namespace vaultca

#endif  // VAULTCA_BENCH_LOADGEN_HISTOGRAM_H_
