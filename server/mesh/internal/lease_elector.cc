#include "server/mesh/internal/lease_elector.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "server/kube/api_stream.h"
#include "server/mesh/internal/object_watch.h"

namespace vaultca {
namespace server {
namespace mesh_internal {
namespace {

using Json = nlohmann::json;

// Candidates retry a little later than the period, spread, so that they do
// not all ask at the same instant (client-go's JitterFactor 1.2).
constexpr double kCandidateJitter = 1.2;

std::string Failure(const char* what, const KubeApiResponse& response) {
  const std::string message = StatusMessage(response.body);
  return absl::StrCat(what, " answered HTTP ", response.http_status,
                      message.empty() ? "" : ": ", message,
                      response.http_status == 403
                          ? " (vaultca-server needs get, create and update "
                            "on leases in its namespace)"
                          : "");
}

}  // namespace

std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

LeaseElector::LeaseElector(std::shared_ptr<const KubeApiClient> api,
                           LeaseElectorOptions options,
                           std::function<void(bool)> on_change)
    : api_(std::move(api)),
      options_(std::move(options)),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { Run(); });
}

LeaseElector::~LeaseElector() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  thread_.join();
}

bool LeaseElector::IsLeader() const {
  MutexLock lock(&mu_);
  return leader_ && absl::Now() - renewed_at_ < options_.renew_deadline;
}

LeaseElector::Stats LeaseElector::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

std::string LeaseElector::LeasePath() const {
  return absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/",
                      options_.lease_namespace, "/leases/",
                      options_.lease_name);
}

void LeaseElector::SetLeader(bool leader) {
  {
    MutexLock lock(&mu_);
    if (leader_ == leader) return;
    leader_ = leader;
    if (leader) {
      ++stats_.acquisitions;
    } else {
      ++stats_.losses;
    }
  }
  VAULTCA_LOG(INFO) << options_.log_prefix << ": " << options_.identity
                    << (leader ? " now holds" : " no longer holds")
                    << " lease " << options_.lease_namespace << "/"
                    << options_.lease_name;
  on_change_(leader);
}

void LeaseElector::Run() {
  std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(1.0, kCandidateJitter);
  while (true) {
    absl::StatusOr<bool> held = TryAcquireOrRenew();
    const absl::Time now = absl::Now();
    bool leader;
    {
      MutexLock lock(&mu_);
      if (held.ok() && *held) {
        renewed_at_ = now;
        if (leader_) ++stats_.renewals;
      }
      // Another holder seen: stop at once. A failed renewal: keep going
      // until renew_deadline, as the lease is still ours until then.
      leader = held.ok() ? *held
                         : leader_ && now - renewed_at_ < options_.renew_deadline;
    }
    if (!held.ok()) {
      VAULTCA_LOG(WARNING) << options_.log_prefix << ": lease: " << held.status();
    }
    SetLeader(leader);

    const absl::Duration wait =
        leader ? options_.retry_period : options_.retry_period * jitter(random);
    const absl::Time deadline = absl::Now() + wait;
    MutexLock lock(&mu_);
    while (!stopping_ && absl::Now() < deadline) {
      wake_.WaitWithTimeout(&mu_, deadline - absl::Now());
    }
    if (stopping_) break;
  }
  const bool was_leader = IsLeader();
  if (was_leader && options_.release_on_stop) Release();
  SetLeader(false);
}

absl::StatusOr<bool> LeaseElector::TryAcquireOrRenew() {
  const absl::Time now = absl::Now();
  const int64_t duration_seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(options_.lease_duration));
  absl::StatusOr<KubeApiResponse> got = api_->Get(LeasePath());
  if (!got.ok()) return got.status();

  if (got->http_status == 404) {
    Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata",
         {{"name", options_.lease_name},
          {"namespace", options_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration_seconds},
          {"acquireTime", MicroTime(now)},
          {"renewTime", MicroTime(now)},
          {"leaseTransitions", 0}}}};
    const std::string body = lease.dump();
    absl::StatusOr<KubeApiResponse> created = api_->Post(
        absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/",
                     options_.lease_namespace, "/leases"),
        body);
    if (!created.ok()) return created.status();
    if (created->http_status == 409) return false;  // another was quicker
    if (created->http_status != 201 && created->http_status != 200) {
      return absl::UnavailableError(Failure("create lease", *created));
    }
    held_ = Json::parse(created->body, nullptr, false);
    return true;
  }
  if (got->http_status != 200) {
    return absl::UnavailableError(Failure("get lease", *got));
  }
  Json lease = Json::parse(got->body, nullptr, false);
  if (!lease.is_object() || !lease.contains("spec") ||
      !lease["spec"].is_object()) {
    return absl::UnavailableError("get lease: not a Lease");
  }
  Json& spec = lease["spec"];
  const std::string holder = spec.value("holderIdentity", "");
  const int64_t their_duration = spec.value("leaseDurationSeconds", int64_t{0});
  const std::string record = absl::StrCat(
      holder, "|", spec.value("renewTime", ""), "|", their_duration, "|",
      StringAt(lease, "metadata", "resourceVersion"));
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  const bool mine = !holder.empty() && holder == options_.identity;
  if (!mine && !holder.empty() &&
      now < observed_at_ + absl::Seconds(their_duration)) {
    return false;
  }

  const int64_t transitions = spec.value("leaseTransitions", int64_t{0});
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = duration_seconds;
  spec["renewTime"] = MicroTime(now);
  if (!mine) {
    spec["acquireTime"] = MicroTime(now);
    spec["leaseTransitions"] = transitions + 1;
  }
  const std::string body = lease.dump();
  const absl::string_view view = body;
  absl::StatusOr<KubeApiResponse> updated =
      api_->Request("PUT", LeasePath(), &view);
  if (!updated.ok()) return updated.status();
  if (updated->http_status == 409) return false;  // changed since the read
  if (updated->http_status != 200) {
    return absl::UnavailableError(Failure("update lease", *updated));
  }
  held_ = Json::parse(updated->body, nullptr, false);
  observed_record_.clear();
  return true;
}

void LeaseElector::Release() {
  if (!held_.is_object() || !held_.contains("spec")) return;
  Json lease = held_;
  const absl::Time now = absl::Now();
  // As client-go: an empty holder and a one-second duration, so others
  // take it on their next attempt.
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = MicroTime(now);
  lease["spec"]["acquireTime"] = MicroTime(now);
  const std::string body = lease.dump();
  const absl::string_view view = body;
  absl::StatusOr<KubeApiResponse> released =
      api_->Request("PUT", LeasePath(), &view);
  if (!released.ok() || released->http_status != 200) {
    VAULTCA_LOG(WARNING) << options_.log_prefix
                         << ": could not release lease "
                         << options_.lease_namespace << "/"
                         << options_.lease_name;
  }
}

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca
