#include "server/mesh/internal/root_publisher_impl.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "server/kube/api_stream.h"

namespace vaultca {
namespace server {
namespace mesh_internal {
namespace {

using Json = nlohmann::json;

// The label istiod puts on the ConfigMaps it publishes.
constexpr char kConfigLabel[] = "istio.io/config";
constexpr absl::Duration kMaxRetryBackoff = absl::Minutes(1);

std::string WriteFailure(const char* what, const std::string& ns,
                         const KubeApiResponse& response) {
  const std::string message = StatusMessage(response.body);
  return absl::StrCat(what, " in namespace ", ns, " answered HTTP ",
                      response.http_status, message.empty() ? "" : ": ",
                      message);
}

}  // namespace

RootPublisherImpl::RootPublisherImpl(std::shared_ptr<const KubeApiClient> api,
                                     RootPublisherOptions options,
                                     std::string root_pem)
    : api_(std::move(api)), options_(std::move(options)) {
  root_ = std::move(root_pem);

  ObjectWatchOptions namespaces;
  namespaces.path = "/api/v1/namespaces";
  namespaces.what = "namespaces";
  if (!options_.namespace_selector.empty()) {
    namespaces.query = absl::StrCat(
        "labelSelector=", QueryEscape(options_.namespace_selector));
  }
  namespaces.watch_timeout = options_.watch_timeout;
  namespaces.idle_timeout = options_.watch_timeout + absl::Seconds(30);

  ObjectWatchOptions configmaps = namespaces;
  configmaps.path = "/api/v1/configmaps";
  configmaps.what = "configmaps";
  // The one ConfigMap by name: the watch carries nothing else of the
  // cluster's ConfigMaps.
  configmaps.query = absl::StrCat(
      "fieldSelector=",
      QueryEscape(absl::StrCat("metadata.name=", options_.configmap_name)));

  namespace_watch_ = std::make_unique<ObjectWatch>(
      api_, namespaces,
      [this](std::vector<Json> items) { OnNamespaces(std::move(items)); },
      [this](ObjectEvent e, const Json& o) { OnNamespace(e, o); });
  configmap_watch_ = std::make_unique<ObjectWatch>(
      api_, configmaps,
      [this](std::vector<Json> items) { OnConfigMaps(std::move(items)); },
      [this](ObjectEvent e, const Json& o) { OnConfigMap(e, o); });

  LeaseElectorOptions lease;
  lease.lease_namespace = options_.lease_namespace;
  lease.lease_name = options_.lease_name;
  lease.identity = options_.identity;
  lease.lease_duration = options_.lease_duration;
  lease.renew_deadline = options_.renew_deadline;
  lease.retry_period = options_.retry_period;
  lease.release_on_stop = options_.release_on_stop;
  elector_ = std::make_unique<LeaseElector>(
      api_, lease, [this](bool leader) { OnLeader(leader); });

  worker_ = std::thread([this] { Work(); });
}

RootPublisherImpl::~RootPublisherImpl() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  // No write may follow the release of the lease.
  worker_.join();
  elector_.reset();
  configmap_watch_.reset();
  namespace_watch_.reset();
}

void RootPublisherImpl::SetRoot(std::string root_pem) {
  MutexLock lock(&mu_);
  if (root_pem == root_) return;
  root_ = std::move(root_pem);
  MarkAllPending();
}

bool RootPublisherImpl::IsLeader() const { return elector_->IsLeader(); }

RootPublisher::Stats RootPublisherImpl::stats() const {
  MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.namespaces = static_cast<int>(namespaces_.size());
  stats.pending = static_cast<int>(pending_.size() + delayed_.size());
  stats.synced = namespaces_synced_ && configmaps_synced_;
  return stats;
}

bool RootPublisherImpl::WaitConverged(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (!Converged()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    changed_.WaitWithTimeout(&mu_, deadline - now);
  }
  return true;
}

bool RootPublisherImpl::Converged() const {
  // From the watches alone, so that a standby replica converges too.
  if (!namespaces_synced_ || !configmaps_synced_) return false;
  if (root_.empty()) return true;
  for (const std::string& ns : namespaces_) {
    auto it = published_.find(ns);
    if (it == published_.end() || it->second.root != root_ ||
        !it->second.labelled) {
      return false;
    }
  }
  return true;
}

bool RootPublisherImpl::Live(const Json& ns) {
  if (!StringAt(ns, "metadata", "deletionTimestamp").empty()) return false;
  return StringAt(ns, "status", "phase") != "Terminating";
}

void RootPublisherImpl::MarkAllPending() {
  for (const std::string& ns : namespaces_) pending_.insert(ns);
  delayed_.clear();
  changed_.SignalAll();
}

void RootPublisherImpl::OnNamespaces(std::vector<Json> items) {
  absl::flat_hash_set<std::string> live;
  for (const Json& ns : items) {
    if (Live(ns)) live.insert(StringAt(ns, "metadata", "name"));
  }
  MutexLock lock(&mu_);
  namespaces_.swap(live);
  namespaces_synced_ = true;
  MarkAllPending();
}

void RootPublisherImpl::OnNamespace(ObjectEvent event, const Json& object) {
  const std::string name = StringAt(object, "metadata", "name");
  MutexLock lock(&mu_);
  if (event == ObjectEvent::kUpsert && Live(object)) {
    if (namespaces_.insert(name).second) pending_.insert(name);
  } else {
    namespaces_.erase(name);
    pending_.erase(name);
    delayed_.erase(name);
  }
  changed_.SignalAll();
}

void RootPublisherImpl::Record(const Json& object) {
  const std::string ns = StringAt(object, "metadata", "namespace");
  if (ns.empty()) return;
  Published& published = published_[ns];
  published.resource_version = StringAt(object, "metadata", "resourceVersion");
  published.root = StringAt(object, "data", options_.data_key.c_str());
  const Json& metadata = object["metadata"];
  auto labels = metadata.find("labels");
  published.labelled = labels != metadata.end() && labels->is_object() &&
                       labels->value(kConfigLabel, "") == "true";
}

void RootPublisherImpl::OnConfigMaps(std::vector<Json> items) {
  MutexLock lock(&mu_);
  published_.clear();
  for (const Json& cm : items) Record(cm);
  configmaps_synced_ = true;
  MarkAllPending();
}

void RootPublisherImpl::OnConfigMap(ObjectEvent event, const Json& object) {
  const std::string ns = StringAt(object, "metadata", "namespace");
  MutexLock lock(&mu_);
  if (event == ObjectEvent::kUpsert) {
    Record(object);
  } else {
    published_.erase(ns);
  }
  if (namespaces_.contains(ns) && !delayed_.contains(ns)) pending_.insert(ns);
  changed_.SignalAll();
}

void RootPublisherImpl::OnLeader(bool leader) {
  MutexLock lock(&mu_);
  leader_ = leader;
  // A new leader checks everything: the previous one may have died with
  // work undone.
  if (leader) MarkAllPending();
  changed_.SignalAll();
}

void RootPublisherImpl::Work() {
  while (true) {
    std::string ns;
    {
      MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        const absl::Time now = absl::Now();
        absl::Time next = absl::InfiniteFuture();
        for (auto it = delayed_.begin(); it != delayed_.end();) {
          if (it->second.due <= now) {
            pending_.insert(it->first);
            // Keeps its backoff for a further failure.
            ++it;
          } else {
            next = std::min(next, it->second.due);
            ++it;
          }
        }
        if (leader_ && namespaces_synced_ && configmaps_synced_) {
          auto it = pending_.begin();
          for (; it != pending_.end(); ++it) {
            auto d = delayed_.find(*it);
            if (d == delayed_.end() || d->second.due <= now) break;
          }
          if (it != pending_.end()) {
            ns = *it;
            pending_.erase(it);
            break;
          }
        }
        changed_.WaitWithTimeout(&mu_, next - now);
      }
    }

    const Outcome outcome = Reconcile(ns);
    MutexLock lock(&mu_);
    switch (outcome) {
      case Outcome::kDone:
        delayed_.erase(ns);
        break;
      case Outcome::kRecheck:
        pending_.insert(ns);
        break;
      case Outcome::kRetry: {
        ++stats_.failures;
        auto it = delayed_.find(ns);
        const absl::Duration backoff =
            it == delayed_.end()
                ? options_.retry_backoff
                : std::min(it->second.backoff * 2, kMaxRetryBackoff);
        delayed_[ns] = Delay{absl::Now() + backoff, backoff};
        break;
      }
      case Outcome::kNotLeader:
        // The elector's clock ran out before its thread noticed: wait for
        // it to renew or to give up (a new leadership checks them all).
        pending_.insert(ns);
        if (!stopping_) changed_.WaitWithTimeout(&mu_, options_.retry_period);
        break;
    }
    changed_.SignalAll();
  }
}

RootPublisherImpl::Outcome RootPublisherImpl::Reconcile(const std::string& ns) {
  std::string root;
  std::string resource_version;
  bool exists = false;
  {
    MutexLock lock(&mu_);
    if (!namespaces_.contains(ns) || root_.empty()) return Outcome::kDone;
    root = root_;
    auto it = published_.find(ns);
    if (it != published_.end()) {
      if (it->second.root == root && it->second.labelled) return Outcome::kDone;
      exists = true;
      resource_version = it->second.resource_version;
    }
  }
  // Checked at the last moment: a replica that lost the lease must not
  // write, even if its elector has not said so yet.
  if (!elector_->IsLeader()) return Outcome::kNotLeader;

  const std::string collection =
      absl::StrCat("/api/v1/namespaces/", ns, "/configmaps");
  if (!exists) {
    const Json configmap = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", options_.configmap_name},
          {"namespace", ns},
          {"labels", {{kConfigLabel, "true"}}}}},
        {"data", {{options_.data_key, root}}}};
    const std::string body = configmap.dump();
    absl::StatusOr<KubeApiResponse> created = api_->Post(collection, body);
    if (!created.ok()) {
      VAULTCA_LOG(WARNING) << "root publisher: create " << options_.configmap_name
                           << " in namespace " << ns << ": " << created.status();
      return Outcome::kRetry;
    }
    if (created->http_status == 201 || created->http_status == 200) {
      MutexLock lock(&mu_);
      ++stats_.creates;
      Record(Json::parse(created->body, nullptr, false));
      return Outcome::kDone;
    }
    if (created->http_status == 409) {
      // Created since the watch last spoke: read it and patch it instead.
      {
        MutexLock lock(&mu_);
        ++stats_.conflicts;
      }
      return Refetch(ns) ? Outcome::kRecheck : Outcome::kRetry;
    }
    VAULTCA_LOG(WARNING) << "root publisher: "
                         << WriteFailure("create", ns, *created);
    return Outcome::kRetry;
  }

  // A merge patch touches only the key and the label, keeping whatever
  // else others put there; the resourceVersion makes it conditional.
  const Json patch = {
      {"metadata",
       {{"resourceVersion", resource_version},
        {"labels", {{kConfigLabel, "true"}}}}},
      {"data", {{options_.data_key, root}}}};
  const std::string body = patch.dump();
  const absl::string_view view = body;
  absl::StatusOr<KubeApiResponse> patched = api_->Request(
      "PATCH", absl::StrCat(collection, "/", options_.configmap_name), &view,
      "application/merge-patch+json");
  if (!patched.ok()) {
    VAULTCA_LOG(WARNING) << "root publisher: update " << options_.configmap_name
                         << " in namespace " << ns << ": " << patched.status();
    return Outcome::kRetry;
  }
  if (patched->http_status == 200) {
    MutexLock lock(&mu_);
    ++stats_.updates;
    Record(Json::parse(patched->body, nullptr, false));
    return Outcome::kDone;
  }
  if (patched->http_status == 409 || patched->http_status == 404) {
    {
      MutexLock lock(&mu_);
      ++stats_.conflicts;
    }
    return Refetch(ns) ? Outcome::kRecheck : Outcome::kRetry;
  }
  VAULTCA_LOG(WARNING) << "root publisher: "
                       << WriteFailure("update", ns, *patched);
  return Outcome::kRetry;
}

bool RootPublisherImpl::Refetch(const std::string& ns) {
  absl::StatusOr<KubeApiResponse> got = api_->Get(absl::StrCat(
      "/api/v1/namespaces/", ns, "/configmaps/", options_.configmap_name));
  if (!got.ok()) return false;
  MutexLock lock(&mu_);
  if (got->http_status == 404) {
    published_.erase(ns);
    return true;
  }
  if (got->http_status != 200) return false;
  Json object = Json::parse(got->body, nullptr, false);
  if (!object.is_object()) return false;
  Record(object);
  return true;
}

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca
