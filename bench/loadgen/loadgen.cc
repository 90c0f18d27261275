// vaultca load generator: drives a certificate service with
// istio-agent-shaped requests and prints one JSON line per run.
//
// Targets:
//   grpc   istio.v1.auth.IstioCertificateService/CreateCertificate over TLS
//          (client certificate and/or "authorization: Bearer"), "clusterid"
//          metadata: vaultca-server, Istio's Go CA, or bench/loadgen's echo
//          server (t_rpc).
//   cfssl  cfssl's HTTP API /api/v1/cfssl/sign, same CSRs, optional mTLS.
//   raw    no RPC: X509_REQ_verify + X509_sign of an equivalent leaf with the
//          CA key, on --concurrency threads (the OpenSSL ceiling).
// Modes:
//   closed  --concurrency requests always outstanding, for --duration.
//   open    --rate requests/s released on schedule (latency measured from
//           the scheduled time, so a stalled server is not hidden by a
//           stalled client), --count requests (default rate * duration).
//   first   retries one request until it succeeds (cold start): reports the
//           time from --start_unix_ns to the first certificate. With
//           --start_file the clock value is read from that file once it
//           appears, so the caller can start the server after this process
//           has generated its CSRs (RSA key generation is not the server's).
// --ready_file is created once the CSRs exist and (except in first mode) the
// target answered, i.e. when the measured load is about to start; scripts
// wait for it before injecting events such as a CA rotation.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/loadgen/backends.h"
#include "bench/loadgen/histogram.h"
#include "bench/loadgen/proc_stats.h"
#include "ca/workload_csr.h"

ABSL_FLAG(std::string, target, "grpc", "grpc, cfssl or raw");
ABSL_FLAG(std::string, mode, "closed", "closed, open or first");
ABSL_FLAG(std::string, label, "", "scenario label copied into the JSON");
ABSL_FLAG(std::string, peer, "", "peer name copied into the JSON");
ABSL_FLAG(std::string, address, "127.0.0.1:15012", "grpc: host:port");
ABSL_FLAG(std::string, server_name, "istiod.istio-system.svc",
          "grpc: TLS name checked on the server certificate");
ABSL_FLAG(std::string, url, "", "cfssl: https://host:port (or http://)");
ABSL_FLAG(std::string, root, "", "PEM roots trusted for the server");
ABSL_FLAG(std::string, client_cert, "", "client certificate chain (mTLS)");
ABSL_FLAG(std::string, client_key, "", "client key (mTLS)");
ABSL_FLAG(std::string, token_file, "", "grpc: sent as authorization: Bearer");
ABSL_FLAG(std::string, cluster_id, "Kubernetes", "grpc: clusterid metadata");
ABSL_FLAG(std::string, ca_cert, "", "raw: CA certificate");
ABSL_FLAG(std::string, ca_key, "", "raw: CA private key");
ABSL_FLAG(std::string, csr_key, "rsa", "rsa or ec (P-256)");
ABSL_FLAG(int, csrs, 16, "distinct pre-generated CSRs, used round-robin");
ABSL_FLAG(int, concurrency, 1, "closed: outstanding requests; raw threads");
ABSL_FLAG(int, channels, 0, "grpc: connections (0: min(concurrency, 64))");
ABSL_FLAG(int, http_workers, 64, "cfssl open loop: HTTP worker threads");
ABSL_FLAG(double, rate, 100, "open: requests per second");
ABSL_FLAG(int64_t, count, 0, "open: total requests (0: rate * duration)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "closed: unmeasured start");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(30), "per-request deadline");
ABSL_FLAG(bool, agent_retry, false,
          "grpc: retry UNAVAILABLE/RESOURCE_EXHAUSTED up to 5 attempts with "
          "backoff through gRPC's retry policy, as an agent would");
ABSL_FLAG(int, server_pid, 0, "server pid: CPU time and peak RSS from /proc");
ABSL_FLAG(absl::Duration, timeline, absl::ZeroDuration(),
          "open: per-window latency series (0: none)");
ABSL_FLAG(std::string, cdf_out, "", "write latency CDF (us, fraction) here");
ABSL_FLAG(int64_t, start_unix_ns, 0, "first: when the server was started");
ABSL_FLAG(std::string, start_file, "",
          "first: wait for this file, then read \"start_unix_ns [server_pid]\"");
ABSL_FLAG(std::string, ready_file, "",
          "created when the CSRs are made and the load is about to start");

namespace vaultca {
namespace bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "loadgen: %s\n", what.c_str());
  std::exit(2);
}

std::string ReadFileOrDie(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> MakeCsrs(const std::string& key, int n) {
  ca::WorkloadCsrOptions options;
  options.identities = {"spiffe://cluster.local/ns/default/sa/sleep"};
  options.key_type = key == "ec" ? ca::KeyType::kEcP256 : ca::KeyType::kRsa;
  options.organization = "";
  options.san_critical = true;
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto csr = ca::GenerateWorkloadCsr(options);
    if (!csr.ok()) Die(csr.status().ToString());
    out.push_back(csr->csr_pem);
  }
  return out;
}

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

// Per-window counts and latencies for --timeline.
struct Window {
  LatencyHistogram latency;
  std::atomic<uint64_t> errors{0};
};

class Run {
 public:
  Run(Backend* backend, int num_csrs) : backend_(backend), csrs_(num_csrs) {}

  // Issues request `seq` and records its outcome against `start_ns`
  // (the scheduled time in open loop, the send time in closed loop).
  void Issue(uint64_t seq, int64_t start_ns, std::function<void()> then) {
    outstanding_.fetch_add(1);
    backend_->Issue(static_cast<int>(seq % csrs_),
                    [this, start_ns, then = std::move(then)](int code) {
                      Complete(start_ns, code);
                      if (then) then();
                      outstanding_.fetch_sub(1);
                    });
  }

  void Complete(int64_t start_ns, int code) {
    int64_t end_ns = NowNs();
    last_done_ns_.store(end_ns);
    if (start_ns < measure_from_ns_ || end_ns > measure_to_ns_) return;
    int64_t us = (end_ns - start_ns) / 1000;
    if (code == 0) {
      latency_.Record(us);
    } else {
      errors_[code < 0 || code > 16 ? 17 : code].fetch_add(1);
    }
    if (!windows_.empty()) {
      size_t w = static_cast<size_t>((start_ns - measure_from_ns_) / window_ns_);
      if (w < windows_.size()) {
        if (code == 0) {
          windows_[w]->latency.Record(us);
        } else {
          windows_[w]->errors.fetch_add(1);
        }
      }
    }
  }

  void WaitDrained(absl::Duration max) {
    absl::Time until = absl::Now() + max;
    while (outstanding_.load() > 0 && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }

  Backend* backend_;
  const int csrs_;
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int64_t> last_done_ns_{0};
  int64_t measure_from_ns_ = 0;
  int64_t measure_to_ns_ = INT64_MAX;
  int64_t window_ns_ = 1;
  std::vector<std::unique_ptr<Window>> windows_;
  LatencyHistogram latency_;
  std::atomic<uint64_t> errors_[18] = {};
};

const char* CodeName(int code) {
  static const char* kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
      "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED", "OTHER"};
  return kNames[code];
}

std::string LatencyJson(const LatencyHistogram& h) {
  return absl::StrFormat(
      "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
      "\"max_ms\":%.3f,\"mean_ms\":%.3f",
      h.Quantile(0.5) / 1e3, h.Quantile(0.9) / 1e3, h.Quantile(0.99) / 1e3,
      h.Quantile(0.999) / 1e3, h.Max() / 1e3, h.Mean() / 1e3);
}

void SignalReady() {
  const std::string path = absl::GetFlag(FLAGS_ready_file);
  if (path.empty()) return;
  std::ofstream(path) << NowNs() << "\n";
}

// "<unix ns> [<server pid>]": when the caller started the server, and
// which process it is (for its RSS).
struct StartFile {
  int64_t start_ns = 0;
  pid_t pid = 0;
};
StartFile WaitForStartFile(const std::string& path, absl::Time give_up) {
  while (absl::Now() < give_up) {
    std::ifstream in(path);
    long long ns = 0;
    if (in >> ns && ns > 0) {
      StartFile f;
      f.start_ns = ns;
      long pid = 0;
      if (in >> pid) f.pid = static_cast<pid_t>(pid);
      return f;
    }
    absl::SleepFor(absl::Microseconds(200));
  }
  Die("no start time in " + path);
}

int Main() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);

  std::vector<std::string> csrs =
      MakeCsrs(absl::GetFlag(FLAGS_csr_key), absl::GetFlag(FLAGS_csrs));

  BackendOptions bo;
  bo.csrs = csrs;
  bo.root_pem = ReadFileOrDie(absl::GetFlag(FLAGS_root));
  bo.root_file = absl::GetFlag(FLAGS_root);
  bo.client_cert_file = absl::GetFlag(FLAGS_client_cert);
  bo.client_key_file = absl::GetFlag(FLAGS_client_key);
  bo.client_cert_pem = ReadFileOrDie(bo.client_cert_file);
  bo.client_key_pem = ReadFileOrDie(bo.client_key_file);
  bo.token = ReadFileOrDie(absl::GetFlag(FLAGS_token_file));
  while (!bo.token.empty() && (bo.token.back() == '\n' || bo.token.back() == ' ')) {
    bo.token.pop_back();
  }
  bo.cluster_id = absl::GetFlag(FLAGS_cluster_id);
  bo.address = absl::GetFlag(FLAGS_address);
  bo.server_name = absl::GetFlag(FLAGS_server_name);
  bo.url = absl::GetFlag(FLAGS_url);
  bo.ca_cert_pem = ReadFileOrDie(absl::GetFlag(FLAGS_ca_cert));
  bo.ca_key_pem = ReadFileOrDie(absl::GetFlag(FLAGS_ca_key));
  bo.deadline = absl::GetFlag(FLAGS_deadline);
  bo.agent_retry = absl::GetFlag(FLAGS_agent_retry);
  int channels = absl::GetFlag(FLAGS_channels);
  bo.channels = channels > 0 ? channels : std::min(concurrency, 64);
  // Worker-thread backends (cfssl, raw) need one thread per outstanding
  // request in closed loop; open loop uses a pool.
  bo.workers = mode == "open" && target != "raw"
                   ? absl::GetFlag(FLAGS_http_workers)
                   : concurrency;

  std::unique_ptr<Backend> backend;
  if (target == "grpc") {
    backend = NewGrpcBackend(bo);
  } else if (target == "cfssl") {
    backend = NewCfsslBackend(bo);
  } else if (target == "raw") {
    backend = NewRawBackend(bo);
  } else {
    Die("unknown --target " + target);
  }

  pid_t pid = absl::GetFlag(FLAGS_server_pid);
  std::string head = absl::StrFormat(
      "{\"label\":\"%s\",\"peer\":\"%s\",\"target\":\"%s\",\"mode\":\"%s\","
      "\"csr_key\":\"%s\"",
      absl::GetFlag(FLAGS_label), absl::GetFlag(FLAGS_peer), target, mode,
      absl::GetFlag(FLAGS_csr_key));

  if (mode == "first") {
    // Cold start: keep asking (each attempt on a fresh connection for gRPC,
    // so a refused connect is retried at once) until a certificate comes.
    SignalReady();
    int64_t start = absl::GetFlag(FLAGS_start_unix_ns);
    if (!absl::GetFlag(FLAGS_start_file).empty()) {
      const StartFile f = WaitForStartFile(
          absl::GetFlag(FLAGS_start_file),
          absl::Now() + absl::GetFlag(FLAGS_deadline));
      start = f.start_ns;
      if (f.pid != 0) pid = f.pid;
    }
    if (start == 0) start = NowNs();
    int attempts = 0;
    int code = -1;
    absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_deadline);
    while (absl::Now() < give_up) {
      ++attempts;
      code = backend->IssueFresh(0);
      if (code == 0) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    int64_t done = NowNs();
    ProcSample ps = ReadProc(pid);
    std::printf("%s,\"ok\":%s,\"attempts\":%d,\"last_code\":\"%s\","
                "\"cold_start_ms\":%.1f,\"server_rss_kb\":%ld}\n",
                head.c_str(), code == 0 ? "true" : "false", attempts,
                CodeName(code < 0 || code > 16 ? 17 : code),
                (done - start) / 1e6, ps.rss_kb);
    return code == 0 ? 0 : 1;
  }

  if (!backend->Prepare()) Die("could not reach the target");
  SignalReady();

  Run run(backend.get(), static_cast<int>(csrs.size()));
  ProcSample before, after;
  int64_t t_start = 0, t_end = 0;
  std::atomic<uint64_t> seq{0};
  std::string extra;

  if (mode == "closed") {
    const int64_t warmup_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_warmup));
    std::atomic<bool> stop{false};
    t_start = NowNs() + warmup_ns;
    t_end = t_start + absl::ToInt64Nanoseconds(duration);
    run.measure_from_ns_ = t_start;
    run.measure_to_ns_ = t_end;
    // Each slot re-issues from its completion: N always outstanding.
    std::function<void()> next;
    next = [&]() {
      if (stop.load()) return;
      run.Issue(seq.fetch_add(1), NowNs(), next);
    };
    for (int i = 0; i < concurrency; ++i) next();
    absl::SleepFor(absl::Nanoseconds(t_start - NowNs()));
    before = ReadProc(pid);
    absl::SleepFor(absl::Nanoseconds(t_end - NowNs()));
    after = ReadProc(pid);
    stop.store(true);
    run.WaitDrained(absl::GetFlag(FLAGS_deadline));
  } else if (mode == "open") {
    const double rate = absl::GetFlag(FLAGS_rate);
    int64_t count = absl::GetFlag(FLAGS_count);
    if (count <= 0) count = static_cast<int64_t>(rate * absl::ToDoubleSeconds(duration));
    const double interval_ns = 1e9 / rate;
    t_start = NowNs() + 50'000'000;  // leave the pacer time to settle
    run.measure_from_ns_ = t_start;
    absl::Duration window = absl::GetFlag(FLAGS_timeline);
    if (window > absl::ZeroDuration()) {
      run.window_ns_ = absl::ToInt64Nanoseconds(window);
      size_t n = static_cast<size_t>(count * interval_ns / run.window_ns_) + 1;
      for (size_t i = 0; i < n; ++i) run.windows_.push_back(std::make_unique<Window>());
    }
    before = ReadProc(pid);
    for (int64_t i = 0; i < count; ++i) {
      int64_t at = t_start + static_cast<int64_t>(i * interval_ns);
      int64_t now = NowNs();
      if (at > now) absl::SleepFor(absl::Nanoseconds(at - now));
      run.Issue(static_cast<uint64_t>(i), at, nullptr);
    }
    run.WaitDrained(absl::GetFlag(FLAGS_deadline) * 2);
    after = ReadProc(pid);
    t_end = run.last_done_ns_.load();
    extra = absl::StrFormat(
        ",\"rate\":%.1f,\"count\":%d,\"last_done_ms\":%.1f,\"t0_unix_ns\":%d",
        rate, count, (t_end - t_start) / 1e6, t_start);
    if (!run.windows_.empty()) {
      std::vector<std::string> parts;
      for (size_t i = 0; i < run.windows_.size(); ++i) {
        const Window& w = *run.windows_[i];
        parts.push_back(absl::StrFormat(
            "{\"t_s\":%.2f,\"n\":%d,\"err\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
            "\"max_ms\":%.3f}",
            i * run.window_ns_ / 1e9, w.latency.Count(), w.errors.load(),
            w.latency.Quantile(0.5) / 1e3, w.latency.Quantile(0.99) / 1e3,
            w.latency.Max() / 1e3));
      }
      extra += ",\"timeline\":[" + absl::StrJoin(parts, ",") + "]";
    }
  } else {
    Die("unknown --mode " + mode);
  }

  const double seconds = (t_end - t_start) / 1e9;
  uint64_t ok = run.latency_.Count();
  uint64_t errors = 0;
  std::vector<std::string> by_code;
  for (int c = 0; c < 18; ++c) {
    uint64_t n = run.errors_[c].load();
    if (n == 0) continue;
    errors += n;
    by_code.push_back(absl::StrFormat("\"%s\":%d", CodeName(c), n));
  }
  std::string server;
  if (before.ok && after.ok) {
    double cpu = after.cpu_seconds - before.cpu_seconds;
    server = absl::StrFormat(
        ",\"server_cpu_s\":%.2f,\"server_cpu_ms_per_req\":%.3f,"
        "\"server_peak_rss_kb\":%d",
        cpu, ok > 0 ? cpu * 1e3 / ok : 0.0, after.peak_rss_kb);
  }
  std::printf("%s,\"concurrency\":%d,\"seconds\":%.3f,\"ok\":%d,\"errors\":%d,"
              "\"errors_by_code\":{%s},\"throughput\":%.1f,%s%s%s}\n",
              head.c_str(), mode == "closed" ? concurrency : 0, seconds, ok,
              errors, absl::StrJoin(by_code, ",").c_str(),
              seconds > 0 ? ok / seconds : 0.0,
              LatencyJson(run.latency_).c_str(), server.c_str(), extra.c_str());
  std::fflush(stdout);

  const std::string cdf_out = absl::GetFlag(FLAGS_cdf_out);
  if (!cdf_out.empty()) {
    std::ofstream out(cdf_out);
    for (const auto& [us, frac] : run.latency_.Cdf()) {
      out << us / 1e3 << " " << frac << "\n";
    }
  }
  backend.reset();
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace vaultca

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, so every absl::Mutex (gRPC's too)
  // runs deadlock detection, a debugging aid vaultca-server turns off as
  // well: the peers must run the same gRPC stack at the same cost.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return vaultca::bench::Main();
}
