// The full local signing path against the raw OpenSSL ceiling.
//
//   BM_LocalCaSign/<ca key>/<csr key>: what the server does per request on
//     an istio-agent-shaped CSR: the CA policy's VerifyCsr (PEM decode, DER
//     split, key policy, CSR signature check) and then
//     LocalCertificateAuthority::Sign (leaf build, CA signature, PEM
//     encode, chain).
//   BM_RawOpenSslCeiling/<ca key>/<csr key>: only the two public-key
//     operations any CA must do, through OpenSSL's own X.509 entry points:
//     X509_REQ_verify on a pre-parsed CSR plus X509_sign of a pre-built
//     equivalent certificate. (For RSA CSRs this ceiling keeps the CSR key's
//     Montgomery context cached across iterations; a real CSR key is new
//     every time, so Sign must pay that setup, about 10 us, on top.)
//   BM_PairedRatio/<ca key>/<csr key>: one of each of the above per
//     iteration, in random order, on the thread CPU clock; counter `ratio`
//     = ceiling time / sign time, i.e. Sign's throughput as a fraction of
//     the ceiling's. On a shared machine this is the figure to trust.
//
// After the runs, a summary prints LocalCaSign / ceiling throughput per
// combination (medians over repetitions) and the paired ratio. Run
// optimised, e.g.
//   bazel run -c opt //bench:ca_sign_benchmark -- --benchmark_repetitions=5
//     --benchmark_enable_random_interleaving=true

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "ca/generate.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "common/internal/ssl_unique_ptr.h"
#include "testing/csr.h"

namespace vaultca {
namespace {

using ::vaultca::internal::SslUniquePtr;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ca_sign_benchmark: %s\n", what.c_str());
  std::exit(1);
}

struct CaKey {
  const char* name;
  ca::KeyType type;
  const char* digest;
};
struct CsrKey {
  const char* name;
  const char* spec;
};

constexpr CaKey kCaKeys[] = {{"RSA2048", ca::KeyType::kRsa, "SHA256"},
                             {"EC-P256", ca::KeyType::kEcP256, "SHA256"}};
constexpr CsrKey kCsrKeys[] = {{"RSA2048", "RSA:2048"},
                               {"EC-P256", "EC:P-256"}};

// Everything one combination needs, built before timing starts.
struct Fixture {
  std::shared_ptr<const ca::KeyCertBundle> bundle;
  std::unique_ptr<ca::LocalCertificateAuthority> local_ca;
  std::string csr_pem;
  std::vector<std::string> identities;
  // Ceiling inputs.
  SslUniquePtr<X509_REQ> parsed_csr;
  SslUniquePtr<X509> equivalent_leaf;
  SslUniquePtr<EVP_MD> digest;
};

// One request as the server handles it: the CA's policy verifies the CSR,
// then the CA signs.
absl::StatusOr<ca::SignedChain> VerifyAndSign(Fixture* f) {
  absl::StatusOr<ca::VerifiedCsr> csr =
      f->local_ca->policy().VerifyCsr(f->csr_pem);
  if (!csr.ok()) return csr.status();
  ca::SignRequest request;
  request.csr = *std::move(csr);
  request.identities = f->identities;
  return f->local_ca->Sign(request);
}

Fixture* MakeFixture(const CaKey& ca_key, const CsrKey& csr_key) {
  auto* f = new Fixture;
  ca::RootOptions root;
  root.key_type = ca_key.type;
  absl::StatusOr<ca::CaMaterialPem> material =
      ca::GenerateSelfSignedRoot(root);
  if (!material.ok()) Die(material.status().ToString());
  auto bundle = ca::KeyCertBundle::Create(*material);
  if (!bundle.ok()) Die(bundle.status().ToString());
  f->bundle = *bundle;
  auto local = ca::LocalCertificateAuthority::New(f->bundle);
  if (!local.ok()) Die(local.status().ToString());
  f->local_ca = *std::move(local);

  // istio-agent's CSR: empty O=, one critical URI SAN.
  testkit::TestCsrOptions csr;
  csr.key = csr_key.spec;
  csr.with_organization = true;
  csr.sans = {"URI:spiffe://cluster.local/ns/default/sa/sleep"};
  f->csr_pem = testkit::TestCsrPem(csr);
  f->identities = {"spiffe://cluster.local/ns/default/sa/sleep"};

  SslUniquePtr<BIO> bio(BIO_new_mem_buf(
      f->csr_pem.data(), static_cast<int>(f->csr_pem.size())));
  f->parsed_csr.reset(
      PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  // The equivalent certificate: one the local CA issued, parsed back.
  absl::StatusOr<ca::SignedChain> chain = VerifyAndSign(f);
  if (!chain.ok()) Die(chain.status().ToString());
  bio.reset(BIO_new_mem_buf(chain->cert_chain[0].data(),
                            static_cast<int>(chain->cert_chain[0].size())));
  f->equivalent_leaf.reset(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  f->digest.reset(EVP_MD_fetch(nullptr, ca_key.digest, nullptr));
  if (f->parsed_csr == nullptr || f->equivalent_leaf == nullptr ||
      f->digest == nullptr) {
    Die("building the ceiling inputs");
  }
  return f;
}

void BM_LocalCaSign(benchmark::State& state, Fixture* f) {
  for (auto _ : state) {
    absl::StatusOr<ca::SignedChain> chain = VerifyAndSign(f);
    if (!chain.ok()) {
      state.SkipWithError(chain.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(chain->cert_chain.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RawOpenSslCeiling(benchmark::State& state, Fixture* f) {
  X509_REQ* csr = f->parsed_csr.get();
  EVP_PKEY* csr_key = X509_REQ_get0_pubkey(csr);
  EVP_PKEY* ca_key = ca::KeyCertBundleAccess::SigningKey(*f->bundle);
  for (auto _ : state) {
    if (X509_REQ_verify(csr, csr_key) != 1 ||
        X509_sign(f->equivalent_leaf.get(), ca_key, f->digest.get()) <= 0) {
      state.SkipWithError("OpenSSL failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// One ceiling operation, as BM_RawOpenSslCeiling times it.
bool CeilingOnce(Fixture* f, EVP_PKEY* csr_key, EVP_PKEY* ca_key) {
  return X509_REQ_verify(f->parsed_csr.get(), csr_key) == 1 &&
         X509_sign(f->equivalent_leaf.get(), ca_key, f->digest.get()) > 0;
}

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Runs one Sign and one ceiling operation per iteration, in random order,
// and times each on this thread's CPU clock. On a shared
// machine the two separate benchmarks above run seconds apart under
// different load; pairing them makes the ratio counter robust to that.
void BM_PairedRatio(benchmark::State& state, Fixture* f) {
  EVP_PKEY* csr_key = X509_REQ_get0_pubkey(f->parsed_csr.get());
  EVP_PKEY* ca_key = ca::KeyCertBundleAccess::SigningKey(*f->bundle);
  int64_t sign_ns = 0;
  int64_t ceiling_ns = 0;
  // The order is random, not alternating: a strict alternation would pin
  // periodic work in OpenSSL (an RSA key refreshes its blinding every 32
  // private-key operations) onto one side.
  uint64_t rng = 0x9e3779b97f4a7c15u;
  for (auto _ : state) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    const bool sign_first = (rng & 1) != 0;
    for (int step = 0; step < 2; ++step) {
      const bool do_sign = (step == 0) == sign_first;
      const int64_t start = ThreadCpuNanos();
      bool ok;
      if (do_sign) {
        absl::StatusOr<ca::SignedChain> chain = VerifyAndSign(f);
        ok = chain.ok();
      } else {
        ok = CeilingOnce(f, csr_key, ca_key);
      }
      (do_sign ? sign_ns : ceiling_ns) += ThreadCpuNanos() - start;
      if (!ok) {
        state.SkipWithError("signing failed");
        return;
      }
    }
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["sign_us"] = sign_ns / n / 1000;
  state.counters["ceiling_us"] = ceiling_ns / n / 1000;
  state.counters["ratio"] =
      sign_ns > 0 ? static_cast<double>(ceiling_ns) / sign_ns : 0;
}

// Prints the console report, then LocalCaSign / ceiling per combination.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string& name = run.run_name.function_name;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) it = run.counters.find("ratio");
      if (it == run.counters.end()) continue;
      // With --benchmark_report_aggregates_only only aggregates arrive;
      // their median stands for the repetitions.
      if (run.run_type == Run::RT_Iteration) {
        samples_[name].push_back(it->second.value);
      } else if (run.aggregate_name == "median") {
        medians_[name] = it->second.value;
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\n%-20s %12s %12s %10s %10s\n", "ca/csr", "sign/s",
                "ceiling/s", "ratio", "paired");
    bool all_met = true;
    int combinations = 0;
    for (const CaKey& ca_key : kCaKeys) {
      for (const CsrKey& csr_key : kCsrKeys) {
        const std::string combo = absl::StrCat(ca_key.name, "/", csr_key.name);
        const double sign = Median("BM_LocalCaSign/" + combo);
        const double ceiling = Median("BM_RawOpenSslCeiling/" + combo);
        const double paired = Median("BM_PairedRatio/" + combo);
        if ((sign <= 0 || ceiling <= 0) && paired <= 0) continue;
        const double ratio = sign > 0 && ceiling > 0 ? sign / ceiling : 0;
        ++combinations;
        // The paired figure, when run, is the one that counts.
        all_met = all_met && (paired > 0 ? paired : ratio) >= 0.85;
        auto rate = [](double v) {
          return v > 0 ? absl::StrFormat("%.0f", v) : std::string("-");
        };
        auto percent = [](double v) {
          return v > 0 ? absl::StrFormat("%.1f%%", 100 * v) : std::string("-");
        };
        std::printf("%-20s %12s %12s %10s %10s\n", combo.c_str(),
                    rate(sign).c_str(), rate(ceiling).c_str(),
                    percent(ratio).c_str(), percent(paired).c_str());
      }
    }
    if (combinations == 0) {
      std::printf("(no pair of LocalCaSign and ceiling runs to compare)\n");
      return;
    }
    std::printf("target: >= 85%% of the ceiling on every combination: %s\n",
                all_met ? "met" : "NOT met");
  }

 private:
  double Median(const std::string& name) {
    auto aggregate = medians_.find(name);
    if (aggregate != medians_.end()) return aggregate->second;
    auto it = samples_.find(name);
    if (it == samples_.end() || it->second.empty()) return 0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2]
                             : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }

  std::map<std::string, std::vector<double>> samples_;
  std::map<std::string, double> medians_;
};

}  // namespace
}  // namespace vaultca

int main(int argc, char** argv) {
  using vaultca::Fixture;
  for (const vaultca::CaKey& ca_key : vaultca::kCaKeys) {
    for (const vaultca::CsrKey& csr_key : vaultca::kCsrKeys) {
      Fixture* fixture = vaultca::MakeFixture(ca_key, csr_key);
      const std::string combo = absl::StrCat(ca_key.name, "/", csr_key.name);
      benchmark::RegisterBenchmark(("BM_LocalCaSign/" + combo).c_str(),
                                   vaultca::BM_LocalCaSign, fixture);
      benchmark::RegisterBenchmark(("BM_RawOpenSslCeiling/" + combo).c_str(),
                                   vaultca::BM_RawOpenSslCeiling, fixture);
      benchmark::RegisterBenchmark(("BM_PairedRatio/" + combo).c_str(),
                                   vaultca::BM_PairedRatio, fixture);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  vaultca::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
