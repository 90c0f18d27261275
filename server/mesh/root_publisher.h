#ifndef VAULTCA_SERVER_MESH_ROOT_PUBLISHER_H_
#define VAULTCA_SERVER_MESH_ROOT_PUBLISHER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {

struct RootPublisherOptions {
  // The ConfigMap every sidecar mounts, and its key; Istio's names.
  std::string configmap_name = "istio-ca-root-cert";
  std::string data_key = "root-cert.pem";
  // Only namespaces matching this Kubernetes label selector
  // ("istio-injection=enabled", "env in (prod)"); empty: all.
  std::string namespace_selector;

  // Only the holder of this Lease writes; the other replicas stand by.
  std::string lease_namespace;
  std::string lease_name = "vaultca-root-publisher";
  // This replica's holderIdentity (the pod name); unique among replicas.
  std::string identity;
  // client-go's defaults: others take over at most lease_duration after
  // the holder last renewed; the holder stops writing once it could not
  // renew for renew_deadline; each tries every retry_period.
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  // A holder that stops cleanly hands the lease over at once.
  bool release_on_stop = true;

  // The API server ends each watch after this; the publisher resumes it.
  absl::Duration watch_timeout = absl::Minutes(5);
  // A write that failed is retried after this (doubling up to a minute).
  absl::Duration retry_backoff = absl::Milliseconds(500);
};

// Keeps the ConfigMap `configmap_name` (label istio.io/config=true, data
// `data_key`) in every selected namespace equal to the current root bundle,
// the duty istiod drops when its own CA is off: created in new namespaces,
// restored when edited or deleted, left alone in terminating ones. Works
// from watches of namespaces and of that ConfigMap, so the steady state
// costs no requests; writes only what differs, with resourceVersion
// preconditions. Thread-safe.
class RootPublisher {
 public:
  // Starts watching and campaigning for the lease. `api` needs list and
  // watch on namespaces, get, list, watch, create and patch on configmaps
  // in every namespace, and get, create and update on leases in
  // lease_namespace. `root_pem` may be empty until SetRoot.
  static absl::StatusOr<std::unique_ptr<RootPublisher>> New(
      std::shared_ptr<const KubeApiClient> api, RootPublisherOptions options,
      std::string root_pem);

  // Stops at once (releasing the lease when configured to).
  virtual ~RootPublisher() = default;

  // Publishes `root_pem` (the PEM trust bundle) everywhere; cheap and a
  // no-op when unchanged, so call it after every rotation check.
  virtual void SetRoot(std::string root_pem) = 0;

  // Whether this replica holds the lease and so writes.
  virtual bool IsLeader() const = 0;

  struct Stats {
    int namespaces = 0;   // selected, not terminating
    int creates = 0;      // ConfigMaps created
    int updates = 0;      // ConfigMaps patched back to the root
    int conflicts = 0;    // writes refused on a stale resourceVersion
    int failures = 0;     // other failed writes (retried)
    int pending = 0;      // namespaces waiting to be checked
    bool synced = false;  // both watches have listed once
  };
  virtual Stats stats() const = 0;

  // Waits until every selected, live namespace holds the current root as
  // far as the watches show (on a standby replica too), or `timeout`
  // passes; returns whether it did.
  virtual bool WaitConverged(absl::Duration timeout) const = 0;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_ROOT_PUBLISHER_H_
