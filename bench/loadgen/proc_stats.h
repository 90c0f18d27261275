#ifndef VAULTCA_BENCH_LOADGEN_PROC_STATS_H_
#define VAULTCA_BENCH_LOADGEN_PROC_STATS_H_

// The server-side cost of a run, read from /proc/<pid>: CPU seconds (user +
// system, all threads) and peak resident set size (VmHWM). Only Linux.

#include <sys/types.h>

namespace vaultca {
namespace bench {

struct ProcSample {
  bool ok = false;
  double cpu_seconds = 0;  // utime + stime
  long peak_rss_kb = 0;    // VmHWM
  long rss_kb = 0;         // VmRSS
};

ProcSample ReadProc(pid_t pid);

}  // namespace bench
}  // namespace vaultca

#endif  // VAULTCA_BENCH_LOADGEN_PROC_STATS_H_
