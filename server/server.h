#ifndef VAULTCA_SERVER_SERVER_H_
#define VAULTCA_SERVER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/managed_ca.h"
#include "ca/sources/material_source.h"
#include "common/sync.h"
#include "server/config.h"
#include "server/metrics.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace vaultca {
namespace server {

class CaService;
class CertificateHandler;
class HttpEndpoints;
class IstiodCertificate;
class RootPublisher;
class ServingCert;
class SigningProbe;

// Seams for tests; production leaves the defaults.
struct ServerDependencies {
  // Replaces the source config.ca.source describes.
  std::unique_ptr<ca::MaterialSource> source;
  // Period of the maintenance loop (serving certificate, root publishing,
  // health status).
  absl::Duration maintenance_interval = absl::Seconds(1);
  // How often gRPC re-reads the serving certificate files.
  unsigned int cert_watch_interval_sec = 1;
};

// vaultca-server assembled: the CA (the caching CA over its source, or
// Vault's PKI engine), the
// authenticators, the IstioCertificateService on gRPC (TLS with a serving
// certificate from this CA, or plain text), grpc.health.v1, the HTTP
// /ready /live /metrics port, and the published root bundle. A
// maintenance thread re-issues the serving certificate after a CA rotation
// or at half its life, republishes the root bundle and updates the health
// status.
class VaultcaServer {
 public:
  // Loads the CA material or issuer chain (waiting up to
  // config.ca.startup_deadline),
  // issues the serving certificate and starts listening. Fails with the
  // cause when any part cannot start.
  static absl::StatusOr<std::unique_ptr<VaultcaServer>> Start(
      const ServerConfig& config, ServerDependencies deps = {});

  // Shuts down with no grace if Shutdown was not called.
  ~VaultcaServer();
  VaultcaServer(const VaultcaServer&) = delete;
  VaultcaServer& operator=(const VaultcaServer&) = delete;

  // The bound ports (useful with port 0); http_port is -1 without HTTP.
  int grpc_port() const { return grpc_port_; }
  int http_port() const;

  // Drains: readiness and health turn NOT_SERVING; new calls and the
  // answers of admitted ones are held (at most 1 s, within `grace`) until
  // every connection that called in the second before waits on a call here;
  // then the listener closes, every connection gets a GOAWAY, the held
  // calls and any later ones are answered UNAVAILABLE and the held answers
  // are sent. Admitted calls get up to `grace` to finish (then they are
  // cancelled). A client making one call at a time sees only answers or
  // UNAVAILABLE; one that sends several at once on a connection, or had
  // been idle for over a second, can still see CANCELLED (gRPC 1.51, see
  // server.cc). Stops the HTTP port and the maintenance thread. Idempotent;
  // blocks until done.
  void Shutdown(absl::Duration grace) ABSL_LOCKS_EXCLUDED(shutdown_mu_);

  // What /ready reports: OK only when not draining, the CA serves fresh
  // material, the serving certificate is current and a probe certificate
  // was issued and verified.
  absl::Status Readiness();

  // One pass of the maintenance loop; tests call it to skip waiting.
  void RunMaintenance() ABSL_LOCKS_EXCLUDED(mu_);

  // The Prometheus text of /metrics.
  std::string MetricsText() ABSL_LOCKS_EXCLUDED(mu_);

  ca::ManagedCertificateAuthority& ca() { return *ca_; }
  const ServerMetrics& metrics() const { return metrics_; }
  // Times the serving certificate was issued (first issue included).
  int64_t serving_cert_issues() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit VaultcaServer(ServerConfig config, ServerDependencies deps);
  absl::Status Init(std::unique_ptr<ca::MaterialSource> source);
  absl::Status StartGrpc();
  void MaintenanceLoop();
  void Maintain() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServerConfig config_;
  const ServerDependencies deps_;
  ServerMetrics metrics_;
  std::unique_ptr<ca::ManagedCertificateAuthority> ca_;
  std::unique_ptr<CertificateHandler> handler_;
  std::unique_ptr<CaService> service_;
  std::unique_ptr<SigningProbe> probe_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = -1;
  // gRPC's certificate watcher has read the serving certificate: false
  // only while a listener that started without material (keep-trying) has
  // not picked up the first one (it reads files once a second, and closes
  // every TLS handshake until then).
  std::atomic<bool> grpc_identity_loaded_{false};
  std::unique_ptr<HttpEndpoints> http_;
  std::atomic<bool> draining_{false};

  // Guards the maintenance state.
  mutable Mutex mu_;
  std::unique_ptr<ServingCert> serving_ ABSL_GUARDED_BY(mu_);
  absl::Status serving_status_ ABSL_GUARDED_BY(mu_);
  // CaStats::generation of the roots last published; 0: none yet.
  uint64_t seen_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::string published_root_ ABSL_GUARDED_BY(mu_);
  // Writes istio-ca-root-cert across the cluster; null when off.
  std::unique_ptr<RootPublisher> root_publisher_ ABSL_GUARDED_BY(mu_);
  // Keeps istiod's serving certificate in its Secret; null when off.
  std::unique_ptr<IstiodCertificate> istiod_cert_ ABSL_GUARDED_BY(mu_);
  CaMetricsSnapshot expiry_ ABSL_GUARDED_BY(mu_);
  bool health_serving_ ABSL_GUARDED_BY(mu_) = false;
  // Whether the last pass saw stale material (logged on each change).
  bool stale_ ABSL_GUARDED_BY(mu_) = false;

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread maintenance_;

  Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_SERVER_H_
