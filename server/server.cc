#include "server/server.h"

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/registry/builtin_ca_sources.h"
#include "common/log.h"
#include "server/ca_service.h"
#include "server/certificate_handler.h"
#include "server/components.h"
#include "server/http_endpoints.h"
#include "server/internal/file_util.h"
#include "server/internal/key_csr.h"
#include "server/internal/tls_probe.h"
#include "server/readiness.h"
#include "server/serving_cert.h"

namespace vaultca {
namespace server {
namespace {

// How long the drain holds calls and answers at most (bounded by the
// grace): long enough for a client calling at a steady pace to have sent its
// next call, short enough to stay far inside any client's deadline.
constexpr absl::Duration kMaxDrainHold = absl::Seconds(1);

// Shuts down and destroys a completion queue that has no pending work.
struct CompletionQueueDeleter {
  void operator()(grpc_completion_queue* cq) const {
    grpc_completion_queue_shutdown(cq);
    grpc_event event;
    do {
      event = grpc_completion_queue_pluck(
          cq, nullptr, gpr_inf_future(GPR_CLOCK_REALTIME), nullptr);
    } while (event.type != GRPC_QUEUE_SHUTDOWN);
    grpc_completion_queue_destroy(cq);
  }
};

// Returns once every client connection that was calling waits on a call
// here (held, running, or with its answer held), or at `until`.
void WaitForCallersToSettle(const CaService& service, absl::Time until) {
  while (absl::Now() < until && service.IdleRecentCallers() > 0) {
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<VaultcaServer>> VaultcaServer::Start(
    const ServerConfig& config, ServerDependencies deps) {
  if (absl::Status s = ValidateServerConfig(config); !s.ok()) return s;
  std::unique_ptr<ca::MaterialSource> source = std::move(deps.source);
  auto server = std::unique_ptr<VaultcaServer>(
      new VaultcaServer(config, std::move(deps)));
  if (absl::Status s = server->Init(std::move(source)); !s.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return s;
  }
  return server;
}

VaultcaServer::VaultcaServer(ServerConfig config, ServerDependencies deps)
    : config_(std::move(config)), deps_(std::move(deps)) {}

VaultcaServer::~VaultcaServer() { Shutdown(absl::ZeroDuration()); }

absl::Status VaultcaServer::Init(std::unique_ptr<ca::MaterialSource> source) {
  const bool test_source = source != nullptr;
  auto ca = BuildCertificateAuthority(config_, std::move(source));
  if (!ca.ok()) {
    return absl::Status(ca.status().code(),
                        absl::StrCat("cannot load the CA material: ",
                                     ca.status().message()));
  }
  ca_ = *std::move(ca);
  auto auth = BuildAuthComponents(config_);
  if (!auth.ok()) return auth.status();
  handler_ = std::make_unique<CertificateHandler>(
      BuildHandlerOptions(config_), std::move(auth->authenticators), ca_.get(),
      &metrics_, std::move(auth->impersonation));
  service_ = std::make_unique<CaService>(
      handler_.get(), &metrics_,
      CaServiceOptions{config_.limits.worker_threads,
                       config_.limits.max_concurrent_requests,
                       config_.limits.inline_when_non_blocking});
  // Every probe of a remote signer is a certificate Vault issues (and
  // stores, unless the role says no_store): probe it less often.
  const ca::CaSourceFactory* factory =
      ca::DefaultCaSources().Find(config_.ca.source);
  const bool remote =
      !test_source && factory != nullptr && factory->signs_remotely();
  auto probe = SigningProbe::New(config_.trust_domain, remote
                                                           ? absl::Seconds(30)
                                                           : absl::Seconds(5));
  if (!probe.ok()) return probe.status();
  probe_ = *std::move(probe);

  {
    MutexLock lock(&mu_);
    auto publisher = BuildRootPublisher(config_);
    if (!publisher.ok()) return publisher.status();
    root_publisher_ = *std::move(publisher);
    auto istiod_cert = BuildIstiodCertificate(config_, ca_.get());
    if (!istiod_cert.ok()) return istiod_cert.status();
    istiod_cert_ = *std::move(istiod_cert);
    if (!config_.listen.plaintext) {
      ServingCertOptions serving;
      serving.dir = config_.serving.cert_dir;
      serving.dns_names = config_.serving.dns_names;
      serving.ttl = std::min(config_.serving.ttl,
                             config_.ca.max_workload_cert_ttl);
      auto cert = ServingCert::New(serving);
      if (!cert.ok()) return cert.status();
      serving_ = *std::move(cert);
    }
  }
  // The probe port first: /live must answer while the material is still
  // loading, or a restart during a Vault outage ends in CrashLoopBackOff.
  if (!config_.listen.http_address.empty()) {
    HttpHandlers handlers;
    handlers.ready = [this] { return Readiness(); };
    handlers.live = [] { return absl::OkStatus(); };
    handlers.metrics = [this] { return MetricsText(); };
    auto http = HttpEndpoints::Start(config_.listen.http_address, handlers);
    if (!http.ok()) return http.status();
    http_ = *std::move(http);
  }
  // Up to startup_deadline for the first material (keep-trying loads it in
  // the background; fail has loaded it already), so that a healthy start
  // has its serving certificate on disk before gRPC reads it.
  const absl::Time give_up = absl::Now() + config_.ca.startup_deadline;
  while (true) {
    {
      MutexLock lock(&mu_);
      Maintain();
      if (ca_->Stats().has_material) {
        if (!serving_status_.ok()) return serving_status_;
        break;
      }
    }
    if (absl::Now() >= give_up) {
      // keep-trying: listen anyway, not ready; gRPC's certificate watcher
      // picks up the serving certificate when the maintenance loop writes
      // it, and /ready and gRPC health follow.
      VAULTCA_LOG(WARNING)
          << "listening without usable CA material (not ready); still "
             "loading from "
          << ca_->source_description() << ": " << ca_->Readiness().message();
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  {
    // The watcher reads existing files when it is created.
    MutexLock lock(&mu_);
    grpc_identity_loaded_.store(config_.listen.plaintext ||
                                (ca_->Stats().has_material &&
                                 serving_status_.ok()));
  }
  if (absl::Status s = StartGrpc(); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    Maintain();
  }
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  VAULTCA_LOG(INFO) << "vaultca-server listening on "
                    << config_.listen.grpc_address << " (port " << grpc_port_
                    << (config_.listen.plaintext ? ", plain text" : ", TLS")
                    << "), CA material from " << ca_->source_description();
  return absl::OkStatus();
}

absl::Status VaultcaServer::StartGrpc() {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (config_.listen.plaintext) {
    VAULTCA_LOG(WARNING) << "serving WITHOUT TLS (listen.plaintext): tokens "
                            "and keys cross the network in clear text";
    creds = grpc::InsecureServerCredentials();
  } else {
    std::string key_file, cert_file, roots_file;
    {
      MutexLock lock(&mu_);
      key_file = serving_->key_file();
      cert_file = serving_->cert_file();
      roots_file = serving_->roots_file();
    }
    auto provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            key_file, cert_file, roots_file, deps_.cert_watch_interval_sec);
    grpc::experimental::TlsServerCredentialsOptions options(provider);
    options.watch_root_certs();
    options.watch_identity_key_cert_pairs();
    // A client certificate is optional; when one is sent it must verify
    // against the mesh roots or the handshake fails.
    options.set_cert_request_type(
        config_.auth.client_certificate
            ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    creds = grpc::experimental::TlsServerCredentials(options);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen.grpc_address, creds, &grpc_port_);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(config_.limits.max_request_bytes);
  const LimitsConfig& limits = config_.limits;
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(limits.handshake_timeout)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             limits.max_streams_per_connection);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(limits.max_connection_idle), INT32_MAX)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(limits.max_connection_age), INT32_MAX)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(limits.max_connection_age_grace),
          INT32_MAX)));
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config_.listen.grpc_address,
        " for gRPC; is the port in use or the address wrong?"));
  }
  return absl::OkStatus();
}

int VaultcaServer::http_port() const {
  return http_ == nullptr ? -1 : http_->port();
}

void VaultcaServer::MaintenanceLoop() {
  while (true) {
    {
      MutexLock lock(&stop_mu_);
      if (stop_) return;
      stop_cv_.WaitWithTimeout(&stop_mu_, deps_.maintenance_interval);
      if (stop_) return;
    }
    RunMaintenance();
  }
}

void VaultcaServer::RunMaintenance() {
  if (!grpc_identity_loaded_.load() && grpc_server_ != nullptr &&
      ca_->Stats().has_material) {
    // Outside mu_: a handshake with our own listener.
    const absl::Status s = internal::TlsHandshake(
        internal::ProbeTargetFor(config_.listen.grpc_address, grpc_port_),
        absl::Seconds(1));
    if (s.ok()) {
      grpc_identity_loaded_.store(true);
      VAULTCA_LOG(INFO) << "the gRPC listener presents the serving certificate";
    }
  }
  MutexLock lock(&mu_);
  Maintain();
}

void VaultcaServer::Maintain() {
  const ca::CaStats stats = ca_->Stats();
  if (stats.has_material && stats.generation != seen_generation_) {
    // Read after the generation: at worst a newer bundle, seen again (and
    // published as a no-op) on the next pass.
    absl::StatusOr<std::string> roots = ca_->RootBundlePem();
    if (roots.ok()) {
      seen_generation_ = stats.generation;
      const std::string& root_pem = *roots;
      absl::StatusOr<absl::Time> root = internal::EarliestNotAfter(root_pem);
      expiry_.root_not_after = root.ok() ? *root : absl::InfinitePast();
      expiry_.chain_not_after = stats.chain_not_after;
      // A no-op unless the root changed: no write per leaf certificate.
      if (root_publisher_ != nullptr) root_publisher_->SetRoot(root_pem);
      // Re-issues istiod's certificate when the root or the signer changed
      // (a remote signer exposes no signing certificate).
      if (istiod_cert_ != nullptr) {
        const std::shared_ptr<const ca::KeyCertBundle> bundle =
            ca_->CurrentBundle();
        istiod_cert_->SetCa(root_pem,
                            bundle != nullptr ? bundle->cert_pem() : "");
      }
      if (!config_.ca.root_cert_file.empty() && root_pem != published_root_) {
        absl::Status s = internal::WriteFileAtomically(
            config_.ca.root_cert_file, root_pem, 0644);
        if (s.ok()) {
          published_root_ = root_pem;
          VAULTCA_LOG(INFO) << "published the root bundle to "
                            << config_.ca.root_cert_file;
        } else {
          // Retried on the next pass: forget the generation so it is seen
          // again.
          seen_generation_ = 0;
          VAULTCA_LOG(ERROR) << "cannot publish the root bundle: " << s;
        }
      }
    }
  }
  if (serving_ != nullptr && stats.has_material) {
    // In-process material signs a server-only certificate; a remote signer
    // (null bundle) issues it through Sign, re-issued per generation.
    absl::StatusOr<bool> refreshed =
        serving_->Refresh(*ca_, ca_->CurrentBundle(), stats.generation);
    serving_status_ = refreshed.status();
    if (!refreshed.ok()) {
      VAULTCA_LOG(ERROR) << refreshed.status();
    }
    expiry_.serving_cert_not_after = serving_->not_after();
  } else if (serving_ != nullptr) {
    serving_status_ = absl::UnavailableError("no CA material loaded yet");
  }
  if (stats.stale != stale_) {
    stale_ = stats.stale;
    if (stale_) {
      VAULTCA_LOG(WARNING)
          << "CA material is stale: no successful refresh since "
          << absl::FormatTime(stats.last_successful_refresh)
          << " (max_staleness " << absl::FormatDuration(config_.ca.max_staleness)
          << "); still signing with serial " << stats.serial_hex
          << (config_.ca.stale_means_not_ready ? "; not ready (stale_means_not_ready)"
                                               : "")
          << "; last error: " << stats.last_error;
    } else {
      VAULTCA_LOG(INFO) << "CA material is fresh again";
    }
  }
  if (grpc_server_ != nullptr && !draining_.load()) {
    // The same "can sign" as /ready: loaded, not expired, probe passes.
    const bool serving = stats.ready && serving_status_.ok() &&
                         grpc_identity_loaded_.load() &&
                         probe_->Check(*ca_).ok();
    if (serving != health_serving_) {
      grpc_server_->GetHealthCheckService()->SetServingStatus(serving);
      health_serving_ = serving;
    }
  }
}

absl::Status VaultcaServer::Readiness() {
  if (draining_.load()) {
    return absl::UnavailableError("vaultca-server is shutting down");
  }
  if (absl::Status s = ca_->Readiness(); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    if (!serving_status_.ok()) return serving_status_;
  }
  if (!grpc_identity_loaded_.load()) {
    return absl::UnavailableError(
        "the gRPC listener has not loaded the serving certificate yet");
  }
  return probe_->Check(*ca_);
}

std::string VaultcaServer::MetricsText() {
  CaMetricsSnapshot snapshot;
  {
    MutexLock lock(&mu_);
    snapshot = expiry_;
  }
  const ca::CaStats stats = ca_->Stats();
  snapshot.has_material = stats.has_material;
  snapshot.ready = stats.ready && !draining_.load();
  snapshot.stale = stats.stale;
  snapshot.last_successful_refresh = stats.last_successful_refresh;
  snapshot.refreshes = stats.refreshes;
  snapshot.rotations = stats.rotations;
  snapshot.refresh_failures_fetch = stats.failures.fetch;
  snapshot.refresh_failures_parse = stats.failures.parse;
  snapshot.refresh_failures_validation = stats.failures.validation;
  snapshot.refresh_failures_root_policy = stats.failures.root_policy;
  {
    MutexLock lock(&mu_);
    if (istiod_cert_ != nullptr) {
      const IstiodCertificate::Stats istiod = istiod_cert_->stats();
      snapshot.istiod_cert_not_after = istiod.not_after;
      snapshot.istiod_cert_writes = istiod.writes;
    }
  }
  return metrics_.Render(snapshot);
}

int64_t VaultcaServer::serving_cert_issues() const {
  MutexLock lock(&mu_);
  return serving_ == nullptr ? 0 : serving_->issued_count();
}

void VaultcaServer::Shutdown(absl::Duration grace) {
  MutexLock shutdown_lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  draining_.store(true);
  if (grpc_server_ != nullptr) {
    VAULTCA_LOG(INFO) << "draining: in-flight requests get up to "
                      << absl::FormatDuration(grace);
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + grace;
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
    // gRPC 1.51 cancels (CANCELLED, not UNAVAILABLE) every call whose
    // headers it processes between marking the server shut down and queueing
    // the GOAWAY on the connection (Server::CallData::StartNewRpc and
    // PublishNewRpc kill it as a zombie), and it offers no public way to
    // send the GOAWAY first. Istio's client does not retry CANCELLED. So no
    // client is let send in that window: one waiting on a call here cannot.
    // Phase 1: new calls are held unanswered, and so are the answers of
    // admitted calls as they finish (an answer sent now would free its
    // client to send the next call at any instant), until every connection
    // that was calling waits on a call here.
    const absl::Time hold_until = std::min(deadline, start + kMaxDrainHold);
    service_->StartDraining(hold_until);
    WaitForCallersToSettle(*service_, hold_until);
    // Phase 2: stop listening and queue a GOAWAY on every connection. The
    // transport writes it before any answer given after this returns, so a
    // client reads the GOAWAY before the answer or the UNAVAILABLE of its
    // held call and sends its next call elsewhere. The tag is notified with
    // the one Shutdown below waits for.
    std::unique_ptr<grpc_completion_queue, CompletionQueueDeleter> shutdown_cq(
        grpc_completion_queue_create_for_pluck(nullptr));
    grpc_server_shutdown_and_notify(grpc_server_->c_server(),
                                    shutdown_cq.get(), shutdown_cq.get());
    const int idle = service_->IdleRecentCallers();
    const CaService::Released released = service_->ReleaseHeld();
    VAULTCA_LOG(INFO) << "draining: sent GOAWAY after "
                      << absl::FormatDuration(absl::Now() - start)
                      << ", refused " << released.refused
                      << " held requests, sent " << released.answered
                      << " held answers, " << service_->in_flight()
                      << " still in flight, " << idle
                      << " recent callers not waiting on a call";
    // Phase 3: admitted calls still running get the rest of the grace, then
    // are cancelled.
    grpc_server_->Shutdown(absl::ToChronoTime(deadline));
    grpc_server_->Wait();
    // Already notified: Shutdown returns only after the server published
    // its shutdown to every tag.
    grpc_completion_queue_pluck(shutdown_cq.get(), shutdown_cq.get(),
                                gpr_inf_future(GPR_CLOCK_REALTIME), nullptr);
  }
  {
    MutexLock lock(&stop_mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  if (maintenance_.joinable()) maintenance_.join();
  {
    // Outside mu_: stopping hands the lease to another replica (one call).
    std::unique_ptr<RootPublisher> publisher;
    // Before the CA it signs with goes.
    std::unique_ptr<IstiodCertificate> istiod_cert;
    {
      MutexLock lock(&mu_);
      publisher = std::move(root_publisher_);
      istiod_cert = std::move(istiod_cert_);
    }
  }
  http_.reset();
  grpc_server_.reset();
  // Answers everything still admitted, then joins the workers.
  service_.reset();
  VAULTCA_LOG(INFO) << "vaultca-server stopped";
}

}  // namespace server
}  // namespace vaultca
