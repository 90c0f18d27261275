#include "server/ca_service.h"

#include <grpc/grpc_security_constants.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/internal/request_headers.h"
#include "server/internal/work_queue.h"

namespace vaultca {
namespace server {
namespace {

absl::string_view View(const grpc::string_ref& ref) {
  return absl::string_view(ref.data(), ref.size());
}

// Returns the first value of request header `name`, or "".
absl::string_view Header(const grpc::CallbackServerContext& context,
                         const char* name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(name);
  return it == metadata.end() ? absl::string_view() : View(it->second);
}

// Copies what the handler needs out of the call.
CertificateRequest ReadCall(
    const grpc::CallbackServerContext& context,
    const istio::v1::auth::IstioCertificateRequest& request) {
  CertificateRequest out;
  out.csr_pem = request.csr();
  out.validity_seconds = request.validity_duration();
  const auto& fields = request.metadata().fields();
  auto impersonated = fields.find("ImpersonatedIdentity");
  if (impersonated != fields.end() && impersonated->second.has_string_value()) {
    out.impersonated_identity = impersonated->second.string_value();
  }
  out.cluster_id = std::string(Header(context, "clusterid"));
  absl::string_view authorization = Header(context, "authorization");
  // istio-agent sends "Bearer <token>"; the scheme is case-insensitive.
  if (authorization.size() > 7 &&
      absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    out.auth.bearer_token = SecretData(
        absl::StripLeadingAsciiWhitespace(authorization.substr(7)));
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    std::vector<grpc::string_ref> pem =
        auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pem.empty()) out.auth.peer_cert_pem = std::string(View(pem[0]));
  }
  return out;
}

// A client connection that called this long before the drain began counts
// as calling still: the drain waits (within its bound) for its next call.
constexpr absl::Duration kRecentCaller = absl::Seconds(1);
// Holding a call past its deadline would turn a retryable UNAVAILABLE, or an
// answer, into DEADLINE_EXCEEDED; the margin covers the trip back.
constexpr absl::Duration kHoldMargin = absl::Milliseconds(100);

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace

CaService::CaService(CertificateHandler* handler, ServerMetrics* metrics,
                     CaServiceOptions options)
    : handler_(handler),
      metrics_(metrics),
      options_(options),
      queue_(std::make_unique<internal::WorkQueue>(
          options.worker_threads, options.max_concurrent_requests)) {}

CaService::~CaService() {
  ReleaseHeld();
  queue_->Shutdown();
}

int CaService::in_flight() const { return queue_->admitted(); }

void CaService::StartDraining(absl::Time hold_until) {
  MutexLock lock(&drain_mu_);
  if (drain_state_ != DrainState::kServing) return;
  drain_started_ = absl::Now();
  drain_state_ = hold_until > drain_started_ ? DrainState::kHolding
                                             : DrainState::kRefusing;
  hold_until_ = hold_until;
  draining_.store(true);
}

int CaService::IdleRecentCallers() const {
  MutexLock lock(&drain_mu_);
  const absl::Time since = drain_started_ - kRecentCaller;
  int idle = 0;
  for (const auto& [peer, state] : peers_) {
    if (state.open_calls == 0 && state.last_arrival >= since) ++idle;
  }
  return idle;
}

CaService::Released CaService::ReleaseHeld() {
  std::vector<OpenCall> held;
  std::vector<HeldAnswer> answers;
  {
    MutexLock lock(&drain_mu_);
    drain_state_ = DrainState::kRefusing;
    draining_.store(true);
    held.swap(held_);
    answers.swap(held_answers_);
  }
  for (const OpenCall& call : held) Refuse(call);
  for (HeldAnswer& answer : answers) {
    {
      MutexLock lock(&drain_mu_);
      ClosedLocked(answer.call.peer);
    }
    answer.call.reactor->Finish(std::move(answer.status));
  }
  return Released{static_cast<int>(held.size()),
                  static_cast<int>(answers.size())};
}

void CaService::Opened(const OpenCall& call) {
  const absl::Time now = absl::Now();
  MutexLock lock(&drain_mu_);
  Peer& peer = peers_[call.peer];
  peer.last_arrival = now;
  ++peer.open_calls;
  // Forgets connections that have been idle for a while, at most once per
  // kRecentCaller, so the map holds about the connections of the last two.
  if (now >= next_forget_ && drain_state_ == DrainState::kServing) {
    next_forget_ = now + kRecentCaller;
    for (auto it = peers_.begin(); it != peers_.end();) {
      if (it->second.open_calls == 0 &&
          it->second.last_arrival < now - kRecentCaller) {
        it = peers_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void CaService::ClosedLocked(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.open_calls > 0) {
    --it->second.open_calls;
  }
}

bool CaService::CanHoldLocked(const OpenCall& call) const {
  return drain_state_ == DrainState::kHolding &&
         absl::FromChrono(call.context->deadline()) > hold_until_ + kHoldMargin;
}

void CaService::Answer(const OpenCall& call, grpc::Status status) {
  {
    MutexLock lock(&drain_mu_);
    if (CanHoldLocked(call)) {
      held_answers_.push_back(HeldAnswer{call, std::move(status)});
      return;
    }
    ClosedLocked(call.peer);
  }
  call.reactor->Finish(std::move(status));
}

void CaService::HoldOrRefuse(const OpenCall& call) {
  {
    MutexLock lock(&drain_mu_);
    if (CanHoldLocked(call)) {
      held_.push_back(call);
      return;
    }
  }
  Refuse(call);
}

void CaService::Refuse(const OpenCall& call) {
  metrics_->Rejected(Rejection::kShuttingDown);
  Answer(call, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "vaultca-server is shutting down; retry "
                            "against another replica"));
}

void CaService::Work(const OpenCall& call, const CertificateRequest& request,
                     grpc::ByteBuffer* response_bytes) {
  absl::StatusOr<std::vector<std::string>> chain = handler_->Handle(request);
  if (!chain.ok()) {
    Answer(call, ToGrpc(chain.status()));
    return;
  }
  istio::v1::auth::IstioCertificateResponse response;
  for (std::string& element : *chain) {
    response.add_cert_chain(std::move(element));
  }
  bool own_buffer = false;
  Answer(call,
         grpc::SerializationTraits<istio::v1::auth::IstioCertificateResponse>::
             Serialize(response, response_bytes, &own_buffer));
}

grpc::ServerUnaryReactor* CaService::CreateCertificate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  auto call = std::make_shared<OpenCall>(
      OpenCall{context, context->DefaultReactor(), context->peer()});
  arrivals_.fetch_add(1);
  Opened(*call);
  if (draining_.load()) {
    HoldOrRefuse(*call);
    return call->reactor;
  }
  if (absl::Status headers = internal::CheckRequestHeaders(
          context->client_metadata());
      !headers.ok()) {
    metrics_->Rejected(Rejection::kMalformed);
    Answer(*call, ToGrpc(headers));
    return call->reactor;
  }
  istio::v1::auth::IstioCertificateRequest request;
  {
    // Deserialize consumes its buffer; the copy shares the slices.
    grpc::ByteBuffer bytes(*request_bytes);
    if (!grpc::SerializationTraits<istio::v1::auth::IstioCertificateRequest>::
             Deserialize(&bytes, &request)
                 .ok()) {
      metrics_->Rejected(Rejection::kMalformed);
      Answer(*call,
             grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "not a valid istio.v1.auth.IstioCertificateRequest "
                          "(proto3 string fields, such as csr and metadata "
                          "values, must be UTF-8)"));
      return call->reactor;
    }
  }
  CertificateRequest certificate_request = ReadCall(*context, request);
  if (options_.inline_when_non_blocking &&
      !handler_->MayBlock(certificate_request)) {
    // Only under a light load: gRPC's callback threads (two on a small
    // machine) also do every connection's I/O, so signing on both of them,
    // or on one while the pool has a backlog, starves the transport.
    if (inline_running_.fetch_add(1) == 0 &&
        queue_->admitted() < kInlineWhilePoolBelow) {
      Work(*call, certificate_request, response_bytes);
      inline_running_.fetch_sub(1);
      return call->reactor;
    }
    inline_running_.fetch_sub(1);
  }
  auto queued =
      std::make_shared<CertificateRequest>(std::move(certificate_request));
  const bool admitted =
      queue_->TrySubmit([this, call, response_bytes, queued] {
        if (call->context->IsCancelled()) {
          metrics_->Rejected(Rejection::kCancelled);
          Answer(*call, grpc::Status(grpc::StatusCode::CANCELLED,
                                     "the caller gave up while the request "
                                     "was queued"));
          return;
        }
        Work(*call, *queued, response_bytes);
      });
  if (!admitted) {
    metrics_->Rejected(Rejection::kOverload);
    Answer(*call, grpc::Status(
                      grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("vaultca-server is handling its limit of ",
                                   options_.max_concurrent_requests,
                                   " concurrent requests; retry with backoff")));
  }
  return call->reactor;
}

}  // namespace server
}  // namespace vaultca
