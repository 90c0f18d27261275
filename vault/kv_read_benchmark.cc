// Measures KV v2 read latency over one reused connection against the Vault
// named by the standard environment (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT,
// ...).
//
//   kv_read_benchmark [PATH] [COUNT]
//
// PATH defaults to secret/data/vaultca-bench (written first if missing),
// COUNT to 1000. Prints min, median, p90, p99, max and mean in microseconds.

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "vault/client.h"
#include "vault/config.h"

int main(int argc, char** argv) {
  using vaultca::vault::VaultClient;
  const std::string path = argc > 1 ? argv[1] : "secret/data/vaultca-bench";
  int count = 1000;
  if (argc > 2 && (!absl::SimpleAtoi(argv[2], &count) || count <= 0)) {
    std::cerr << "COUNT must be a positive integer\n";
    return 2;
  }
  absl::StatusOr<vaultca::vault::VaultConfig> config =
      vaultca::vault::ConfigFromEnvironment();
  if (!config.ok()) {
    std::cerr << "config: " << config.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<VaultClient>> client =
      VaultClient::New(*config);
  if (!client.ok()) {
    std::cerr << "client: " << client.status() << "\n";
    return 1;
  }
  absl::StatusOr<vaultca::vault::KvSecret> first = (*client)->ReadKv(path);
  if (!first.ok() && first.status().code() == absl::StatusCode::kNotFound) {
    absl::StatusOr<vaultca::SecretData> written = (*client)->Write(
        path, R"({"data":{"certificate":"bench-cert","privateKey":"bench-key"}})");
    if (!written.ok()) {
      std::cerr << "writing " << path << ": " << written.status() << "\n";
      return 1;
    }
    first = (*client)->ReadKv(path);
  }
  if (!first.ok()) {
    std::cerr << "reading " << path << ": " << first.status() << "\n";
    return 1;
  }
  // Warm-up: connection, TLS session, token lookup are done by now.
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<vaultca::vault::KvSecret> secret = (*client)->ReadKv(path);
    const absl::Duration took = absl::Now() - start;
    if (!secret.ok()) {
      std::cerr << "read " << i << ": " << secret.status() << "\n";
      return 1;
    }
    micros.push_back(absl::ToDoubleMicroseconds(took));
  }
  std::vector<double> sorted = micros;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&sorted](double p) {
    return sorted[std::min(sorted.size() - 1,
                           static_cast<size_t>(p * (sorted.size() - 1) + 0.5))];
  };
  double sum = 0;
  for (double m : micros) sum += m;
  std::cout << "kv_read_benchmark: " << count << " KV reads of " << path
            << " (v2=" << (first->v2 ? "yes" : "no") << ")\n"
            << "  min    " << sorted.front() << " us\n"
            << "  median " << pct(0.5) << " us\n"
            << "  p90    " << pct(0.9) << " us\n"
            << "  p99    " << pct(0.99) << " us\n"
            << "  max    " << sorted.back() << " us\n"
            << "  mean   " << sum / count << " us\n";
  return 0;
}
