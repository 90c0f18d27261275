#include "bench/loadgen/histogram.h"

#include <algorithm>

namespace vaultca {
namespace bench {

LatencyHistogram::LatencyHistogram() { Reset(); }

void LatencyHistogram::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  total_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

// Values below kSub map linearly to [0, kSub); above, the position of the
// top bit picks the power of two and the next kSubBits bits the sub-bucket.
int LatencyHistogram::Index(int64_t micros) {
  if (micros < 0) micros = 0;
  uint64_t v = static_cast<uint64_t>(micros);
  if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
  int top = 63 - __builtin_clzll(v);  // >= kSubBits
  int shift = top - kSubBits;
  int index = (shift + 1) * kSub + static_cast<int>((v >> shift) - kSub);
  return std::min(index, kBuckets - 1);
}

int64_t LatencyHistogram::UpperEdge(int index) {
  if (index < kSub) return index;
  int shift = index / kSub - 1;
  int64_t sub = index % kSub + kSub;
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(int64_t micros) {
  counts_[Index(micros)].fetch_add(1, std::memory_order_relaxed);
  total_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(micros, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (micros > seen &&
         !max_.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
  }
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) {
    counts_[i].fetch_add(other.counts_[i].load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
  }
  total_.fetch_add(other.Count(), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_.load(std::memory_order_relaxed),
                 std::memory_order_relaxed);
  int64_t m = other.Max();
  if (m > Max()) max_.store(m, std::memory_order_relaxed);
}

uint64_t LatencyHistogram::Count() const {
  return total_.load(std::memory_order_relaxed);
}

double LatencyHistogram::Mean() const {
  uint64_t n = Count();
  return n == 0 ? 0.0
                : static_cast<double>(sum_.load(std::memory_order_relaxed)) /
                      static_cast<double>(n);
}

int64_t LatencyHistogram::Quantile(double q) const {
  uint64_t n = Count();
  if (n == 0) return 0;
  // Rank of the quantile, 1-based, rounded up (nearest-rank definition).
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n) + 0.999999);
  rank = std::max<uint64_t>(1, std::min(rank, n));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(UpperEdge(i), Max());
  }
  return Max();
}

std::vector<std::pair<int64_t, double>> LatencyHistogram::Cdf() const {
  std::vector<std::pair<int64_t, double>> out;
  uint64_t n = Count();
  if (n == 0) return out;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    uint64_t c = counts_[i].load(std::memory_order_relaxed);
    if (c == 0) continue;
    seen += c;
    out.emplace_back(std::min(UpperEdge(i), Max()),
                     static_cast<double>(seen) / static_cast<double>(n));
  }
  return out;
}

}  // namespace bench
}  // namespace vaultca
