#include "server/mesh/internal/istiod_cert_impl.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ca/workload_csr.h"
#include "common/log.h"
#include "server/kube/api_stream.h"

namespace vaultca {
namespace server {
namespace mesh_internal {
namespace {

using Json = nlohmann::json;

constexpr char kTlsType[] = "kubernetes.io/tls";
constexpr char kLogPrefix[] = "istiod certificate";
constexpr absl::Duration kMaxRetryBackoff = absl::Minutes(5);
// Writes closer together than this count as a run, spaced ever wider.
constexpr absl::Duration kWriteQuiet = absl::Minutes(1);

std::string Failure(const char* what, const KubeApiResponse& response) {
  const std::string message = StatusMessage(response.body);
  return absl::StrCat(what, " answered HTTP ", response.http_status,
                      message.empty() ? "" : ": ", message,
                      response.http_status == 403
                          ? " (vaultca-server needs get, list, watch, "
                            "create, patch and delete on secrets in istiod's "
                            "namespace)"
                          : "");
}

// Overwrites the key in an object this process owns before it is freed.
void WipeKey(Json* object) {
  if (!object->is_object()) return;
  auto data = object->find("data");
  if (data == object->end() || !data->is_object()) return;
  auto key = data->find("tls.key");
  if (key == data->end() || !key->is_string()) return;
  std::string& text = key->get_ref<std::string&>();
  ::vaultca::internal::SecureWipe(text.data(), text.size());
}

// Parses an answer that carries the Secret, then wipes the answer.
Json ParseSecretAnswer(KubeApiResponse* response) {
  Json object = Json::parse(response->body, nullptr, false);
  ::vaultca::internal::SecureWipe(response->body.data(),
                                  response->body.size());
  return object;
}

}  // namespace

IstiodCertImpl::IstiodCertImpl(std::shared_ptr<const KubeApiClient> api,
                               IstiodCertOptions options,
                               ca::CertificateAuthority* ca)
    : api_(std::move(api)),
      options_(std::move(options)),
      dns_names_(IstiodDnsNames(options_)),
      ca_(ca) {
  ObjectWatchOptions watch;
  watch.path =
      absl::StrCat("/api/v1/namespaces/", options_.istiod_namespace, "/secrets");
  // The one Secret by name: no other Secret (or key) of the namespace is
  // ever sent to this process.
  watch.query = absl::StrCat(
      "fieldSelector=",
      QueryEscape(absl::StrCat("metadata.name=", options_.secret_name)));
  watch.what = absl::StrCat("secret ", options_.istiod_namespace, "/",
                            options_.secret_name);
  watch.log_prefix = kLogPrefix;
  watch.watch_timeout = options_.watch_timeout;
  watch.idle_timeout = options_.watch_timeout + absl::Seconds(30);
  watch_ = std::make_unique<ObjectWatch>(
      api_, watch,
      [this](std::vector<Json> items) { OnList(std::move(items)); },
      [this](ObjectEvent e, const Json& o) { OnEvent(e, o); });

  LeaseElectorOptions lease;
  lease.lease_namespace = options_.lease_namespace;
  lease.lease_name = options_.lease_name;
  lease.identity = options_.identity;
  lease.lease_duration = options_.lease_duration;
  lease.renew_deadline = options_.renew_deadline;
  lease.retry_period = options_.retry_period;
  lease.release_on_stop = options_.release_on_stop;
  lease.log_prefix = kLogPrefix;
  elector_ = std::make_unique<LeaseElector>(
      api_, lease, [this](bool leader) { OnLeader(leader); });

  worker_ = std::thread([this] { Work(); });
}

IstiodCertImpl::~IstiodCertImpl() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  // No write may follow the release of the lease.
  worker_.join();
  elector_.reset();
  watch_.reset();
}

std::string IstiodCertImpl::SecretPath() const {
  return absl::StrCat("/api/v1/namespaces/", options_.istiod_namespace,
                      "/secrets/", options_.secret_name);
}

void IstiodCertImpl::SetCa(std::string root_bundle_pem,
                           std::string signing_cert_pem) {
  MutexLock lock(&mu_);
  if (root_bundle_pem == root_ && signing_cert_pem == signer_) return;
  root_ = std::move(root_bundle_pem);
  signer_ = std::move(signing_cert_pem);
  Touch();
}

bool IstiodCertImpl::IsLeader() const { return elector_->IsLeader(); }

IstiodCertificate::Stats IstiodCertImpl::stats() const {
  MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.synced = synced_;
  return stats;
}

bool IstiodCertImpl::WaitCurrent(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (!(current_ && leader_ && absl::Now() < due_)) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    changed_.WaitWithTimeout(&mu_, deadline - now);
  }
  return true;
}

void IstiodCertImpl::Touch() {
  ++version_;
  dirty_ = true;
  current_ = false;
  changed_.SignalAll();
}

void IstiodCertImpl::Record(const Json& object) {
  Seen seen;
  seen.exists = true;
  seen.resource_version = StringAt(object, "metadata", "resourceVersion");
  if (auto type = object.find("type");
      type != object.end() && type->is_string()) {
    seen.type = type->get<std::string>();
  }
  auto data = object.find("data");
  if (data != object.end() && data->is_object()) {
    auto text = [&](const char* key) -> const std::string* {
      auto it = data->find(key);
      return it != data->end() && it->is_string()
                 ? &it->get_ref<const std::string&>()
                 : nullptr;
    };
    // Undecodable values stay empty, which the check reports.
    if (const std::string* crt = text("tls.crt")) {
      if (!absl::Base64Unescape(*crt, &seen.data.tls_crt)) {
        seen.data.tls_crt.clear();
      }
    }
    if (const std::string* ca_crt = text("ca.crt")) {
      if (!absl::Base64Unescape(*ca_crt, &seen.data.ca_crt)) {
        seen.data.ca_crt.clear();
      }
    }
    if (const std::string* key = text("tls.key")) {
      Base64DecodeSecret(*key, &seen.data.tls_key);
    }
  }
  seen_ = std::move(seen);
  Touch();
}

void IstiodCertImpl::OnList(std::vector<Json> items) {
  MutexLock lock(&mu_);
  seen_ = Seen();
  Touch();
  for (const Json& item : items) {
    if (StringAt(item, "metadata", "name") == options_.secret_name) {
      Record(item);
    }
  }
  synced_ = true;
}

void IstiodCertImpl::OnEvent(ObjectEvent event, const Json& object) {
  MutexLock lock(&mu_);
  if (event == ObjectEvent::kDelete) {
    seen_ = Seen();
    Touch();
    return;
  }
  // The echo of this replica's own write changes nothing.
  if (seen_.exists && seen_.resource_version ==
                          StringAt(object, "metadata", "resourceVersion")) {
    return;
  }
  Record(object);
}

void IstiodCertImpl::OnLeader(bool leader) {
  MutexLock lock(&mu_);
  leader_ = leader;
  // A new leader checks: the previous one may have died with work undone.
  Touch();
}

absl::Time IstiodCertImpl::RenewAt(absl::Time not_before,
                                   absl::Time not_after) const {
  // CAs backdate notBefore for clock skew (istiod by two minutes): count
  // the life from at most ttl before notAfter, so that a short TTL is not
  // due the moment it is issued.
  const absl::Time start = std::max(not_before, not_after - options_.ttl);
  absl::Time at = start + (not_after - start) * options_.renew_fraction;
  MutexLock lock(&mu_);
  // A CA that cuts lifetimes short (its own end is near) would otherwise
  // have each renewal due sooner than the last: at most ten renewals per
  // TTL, the last one at expiry.
  if (last_written_ != absl::InfinitePast()) {
    at = std::max(at, last_written_ + options_.ttl / 10);
  }
  return std::min(at, not_after);
}

void IstiodCertImpl::Work() {
  while (true) {
    Snapshot snapshot;
    {
      MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        const absl::Time now = absl::Now();
        const bool ready = leader_ && synced_ && !root_.empty();
        if (ready && (dirty_ || now >= due_) && now >= retry_at_) break;
        if (!ready) {
          changed_.Wait(&mu_);
          continue;
        }
        const absl::Time next = dirty_ ? retry_at_ : std::max(due_, retry_at_);
        changed_.WaitWithTimeout(&mu_, next - now);
      }
      snapshot.seen = seen_;
      snapshot.root = root_;
      snapshot.signer = signer_;
      snapshot.version = version_;
    }

    const Outcome outcome = Reconcile(snapshot);
    MutexLock lock(&mu_);
    switch (outcome.kind) {
      case Outcome::kCurrent:
        backoff_ = absl::ZeroDuration();
        retry_at_ = absl::InfinitePast();
        due_ = outcome.renew_at;
        stats_.not_after = outcome.not_after;
        if (version_ == snapshot.version) {
          dirty_ = false;
          current_ = true;
        }
        break;
      case Outcome::kWritten: {
        backoff_ = absl::ZeroDuration();
        retry_at_ = absl::InfinitePast();
        const absl::Time now = absl::Now();
        if (now - last_written_ < kWriteQuiet) {
          write_spacing_ = write_spacing_ == absl::ZeroDuration()
                               ? options_.retry_backoff
                               : std::min(write_spacing_ * 2, kMaxRetryBackoff);
        } else {
          write_spacing_ = absl::ZeroDuration();
        }
        last_written_ = now;
        // Record() marked the written Secret for a check, which confirms
        // it and sets the renewal time without another write.
        dirty_ = true;
        break;
      }
      case Outcome::kDelay:
        retry_at_ = outcome.renew_at;
        break;
      case Outcome::kRecheck:
        dirty_ = true;
        break;
      case Outcome::kRetry:
        ++stats_.failures;
        backoff_ = backoff_ == absl::ZeroDuration()
                       ? options_.retry_backoff
                       : std::min(backoff_ * 2, kMaxRetryBackoff);
        retry_at_ = absl::Now() + backoff_;
        break;
      case Outcome::kNotLeader:
        // The elector's clock ran out before its thread noticed: wait for
        // it to renew or to give up (a new leadership checks again).
        if (!stopping_) changed_.WaitWithTimeout(&mu_, options_.retry_period);
        break;
    }
    changed_.SignalAll();
  }
}

IstiodCertImpl::Outcome IstiodCertImpl::Reconcile(const Snapshot& snapshot) {
  if (!elector_->IsLeader()) return Outcome{Outcome::kNotLeader};
  std::string reason = "the Secret does not exist";
  if (snapshot.seen.exists) {
    TlsWanted wanted;
    wanted.dns_names = dns_names_;
    wanted.key_type = options_.key_type;
    wanted.root_bundle_pem = snapshot.root;
    wanted.signing_cert_pem = snapshot.signer;
    const TlsVerdict verdict =
        CheckTlsSecret(snapshot.seen.data, wanted, absl::Now());
    {
      MutexLock lock(&mu_);
      ++stats_.checks;
    }
    if (snapshot.seen.type != kTlsType) {
      reason = absl::StrCat("the Secret's type is '", snapshot.seen.type,
                            "', not ", kTlsType);
    } else if (!verdict.problem.empty()) {
      reason = verdict.problem;
    } else {
      const absl::Time renew_at =
          RenewAt(verdict.not_before, verdict.not_after);
      if (absl::Now() < renew_at) {
        return Outcome{Outcome::kCurrent, renew_at, verdict.not_after};
      }
      reason = absl::StrCat("renewal was due at ",
                            absl::FormatTime(renew_at, absl::UTCTimeZone()));
    }
  }
  return Issue(snapshot, reason);
}

IstiodCertImpl::Outcome IstiodCertImpl::Issue(const Snapshot& snapshot,
                                              const std::string& reason) {
  {
    // Something keeps undoing the writes (another controller managing the
    // same Secret, a loop of edits): write ever less often rather than
    // fight at its pace, since every write also makes istiod reload.
    MutexLock lock(&mu_);
    const absl::Time allowed = last_written_ + write_spacing_;
    if (absl::Now() < allowed) {
      VAULTCA_LOG(INFO) << kLogPrefix << ": " << reason
                        << "; rewritten often lately, next write at "
                        << absl::FormatTime(allowed, absl::UTCTimeZone());
      Outcome delayed{Outcome::kDelay};
      delayed.renew_at = allowed;
      return delayed;
    }
  }
  VAULTCA_LOG(INFO) << kLogPrefix << ": issuing for "
                    << options_.istiod_namespace << "/" << options_.secret_name
                    << ": " << reason;
  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = dns_names_;
  csr_options.key_type = options_.key_type;
  csr_options.empty_subject = true;
  absl::StatusOr<ca::WorkloadCsr> csr = ca::GenerateWorkloadCsr(csr_options);
  if (!csr.ok()) {
    VAULTCA_LOG(ERROR) << kLogPrefix << ": " << csr.status();
    return Outcome{Outcome::kRetry};
  }
  absl::StatusOr<ca::VerifiedCsr> verified =
      ca_->policy().VerifyCsr(csr->csr_pem);
  if (!verified.ok()) {
    VAULTCA_LOG(WARNING) << kLogPrefix << ": the CA did not sign: "
                         << verified.status();
    return Outcome{Outcome::kRetry};
  }
  ca::SignRequest request;
  request.csr = *std::move(verified);
  request.identities = dns_names_;
  request.requested_ttl = options_.ttl;
  absl::StatusOr<ca::SignedChain> signed_chain = ca_->Sign(request);
  if (!signed_chain.ok()) {
    VAULTCA_LOG(WARNING) << kLogPrefix << ": the CA did not sign: "
                         << signed_chain.status();
    return Outcome{Outcome::kRetry};
  }
  {
    MutexLock lock(&mu_);
    ++stats_.issued;
  }
  absl::StatusOr<std::string> chain =
      ServingChainPem(signed_chain->cert_chain, snapshot.root);
  if (!chain.ok()) {
    VAULTCA_LOG(ERROR) << kLogPrefix << ": " << chain.status();
    return Outcome{Outcome::kRetry};
  }
  TlsSecretData fresh;
  fresh.tls_crt = *std::move(chain);
  fresh.tls_key = std::move(csr->key_pem);
  fresh.ca_crt = snapshot.root;
  TlsWanted wanted;
  wanted.dns_names = dns_names_;
  wanted.key_type = options_.key_type;
  wanted.root_bundle_pem = snapshot.root;
  wanted.signing_cert_pem = snapshot.signer;
  // The same check as the Secret's: what is written passes it, so a write
  // is never followed by another for the same cause.
  const TlsVerdict verdict = CheckTlsSecret(fresh, wanted, absl::Now());
  if (!verdict.problem.empty()) {
    // Usually a rotation between SetCa and Sign, which the next SetCa
    // settles; otherwise the CA's answer is unusable (a Vault role that
    // does not allow the names): retried with backoff.
    VAULTCA_LOG(WARNING) << kLogPrefix
                         << ": not writing the certificate the CA issued: "
                         << verdict.problem;
    return Outcome{Outcome::kRetry};
  }
  Outcome written = Write(snapshot, fresh);
  written.not_after = verdict.not_after;
  if (written.kind == Outcome::kWritten) {
    VAULTCA_LOG(INFO) << kLogPrefix << ": wrote " << options_.istiod_namespace
                      << "/" << options_.secret_name << ", valid until "
                      << absl::FormatTime(verdict.not_after,
                                          absl::UTCTimeZone());
  }
  return written;
}

IstiodCertImpl::Outcome IstiodCertImpl::Write(const Snapshot& snapshot,
                                              const TlsSecretData& data) {
  const Json labels = {{"app.kubernetes.io/managed-by", "vaultca"}};
  auto append_data = [&](SecretData* body) {
    body->Append(R"("data":{"tls.crt":")");
    body->Append(absl::Base64Escape(data.tls_crt));
    body->Append(R"(","tls.key":")");
    Base64EncodeSecret(data.tls_key.view(), body);
    body->Append(R"(","ca.crt":")");
    body->Append(absl::Base64Escape(data.ca_crt));
    body->Append(R"("}})");
  };
  const std::string collection = absl::StrCat(
      "/api/v1/namespaces/", options_.istiod_namespace, "/secrets");

  bool exists = snapshot.seen.exists;
  if (exists && snapshot.seen.type != kTlsType) {
    // The type of a Secret cannot change: replace it, conditionally.
    const Json options = {
        {"apiVersion", "v1"},
        {"kind", "DeleteOptions"},
        {"preconditions",
         {{"resourceVersion", snapshot.seen.resource_version}}}};
    const std::string body = options.dump();
    const absl::string_view view = body;
    absl::StatusOr<KubeApiResponse> deleted =
        api_->Request("DELETE", SecretPath(), &view);
    if (!deleted.ok()) {
      VAULTCA_LOG(WARNING) << kLogPrefix << ": " << deleted.status();
      return Outcome{Outcome::kRetry};
    }
    if (deleted->http_status == 409 || deleted->http_status == 404) {
      return Refetch() ? Outcome{Outcome::kRecheck} : Outcome{Outcome::kRetry};
    }
    if (deleted->http_status != 200 && deleted->http_status != 202) {
      VAULTCA_LOG(WARNING) << kLogPrefix << ": "
                           << Failure("delete secret", *deleted);
      return Outcome{Outcome::kRetry};
    }
    exists = false;
  }

  // Conditional on the state checked, so a concurrent change (another
  // writer, an edit) is re-read and checked instead of overwritten.
  if (!elector_->IsLeader()) return Outcome{Outcome::kNotLeader};
  SecretData body;
  absl::StatusOr<KubeApiResponse> answer;
  if (!exists) {
    const Json metadata = {{"name", options_.secret_name},
                           {"namespace", options_.istiod_namespace},
                           {"labels", labels}};
    body.Append(R"({"apiVersion":"v1","kind":"Secret","type":")");
    body.Append(kTlsType);
    body.Append(R"(","metadata":)");
    body.Append(metadata.dump());
    body.Append(",");
    append_data(&body);
    answer = api_->Post(collection, body.view());
  } else {
    // A merge patch keeps keys others added; the resourceVersion makes it
    // conditional.
    const Json metadata = {
        {"resourceVersion", snapshot.seen.resource_version},
        {"labels", labels}};
    body.Append(R"({"metadata":)");
    body.Append(metadata.dump());
    body.Append(",");
    append_data(&body);
    const absl::string_view view = body.view();
    answer = api_->Request("PATCH", SecretPath(), &view,
                           "application/merge-patch+json");
  }
  if (!answer.ok()) {
    VAULTCA_LOG(WARNING) << kLogPrefix << ": write: " << answer.status();
    return Outcome{Outcome::kRetry};
  }
  const long status = answer->http_status;
  if (status == 200 || status == 201) {
    Json object = ParseSecretAnswer(&*answer);
    MutexLock lock(&mu_);
    ++stats_.writes;
    if (object.is_object()) Record(object);
    WipeKey(&object);
    return Outcome{Outcome::kWritten};
  }
  if (status == 404 && !exists) {
    // POST answers 404 only for a missing namespace.
    VAULTCA_LOG(WARNING) << kLogPrefix << ": "
                         << Failure("create secret", *answer);
    return Outcome{Outcome::kRetry};
  }
  if (status == 409 || status == 404) {
    ::vaultca::internal::SecureWipe(answer->body.data(), answer->body.size());
    {
      MutexLock lock(&mu_);
      ++stats_.conflicts;
    }
    return Refetch() ? Outcome{Outcome::kRecheck} : Outcome{Outcome::kRetry};
  }
  VAULTCA_LOG(WARNING) << kLogPrefix << ": "
                       << Failure(exists ? "update secret" : "create secret",
                                  *answer);
  return Outcome{Outcome::kRetry};
}

bool IstiodCertImpl::Refetch() {
  absl::StatusOr<KubeApiResponse> got = api_->Get(SecretPath());
  if (!got.ok()) return false;
  if (got->http_status == 404) {
    MutexLock lock(&mu_);
    seen_ = Seen();
    Touch();
    return true;
  }
  if (got->http_status != 200) {
    VAULTCA_LOG(WARNING) << kLogPrefix << ": " << Failure("get secret", *got);
    return false;
  }
  Json object = ParseSecretAnswer(&*got);
  if (!object.is_object()) return false;
  MutexLock lock(&mu_);
  Record(object);
  WipeKey(&object);
  return true;
}

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca
