#ifndef VAULTCA_SERVER_AUTH_AUTHENTICATOR_H_
#define VAULTCA_SERVER_AUTH_AUTHENTICATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_data.h"

namespace vaultca {
namespace server {

// What an authenticator may look at of one call, independent of gRPC.
struct AuthRequest {
  // The token of an "authorization: Bearer <token>" header; empty when the
  // caller sent none.
  SecretData bearer_token;
  // The TLS client certificate (leaf), PEM, exactly as the transport
  // verified it against the mesh roots; empty without mutual TLS.
  std::string peer_cert_pem;
};

// An authenticated caller.
struct Caller {
  // The identities the caller may obtain certificates for, e.g.
  // "spiffe://cluster.local/ns/default/sa/sleep". Never empty.
  std::vector<std::string> identities;
  // Name() of the authenticator that accepted the caller.
  std::string authenticator;
  // Set when the credential was a Kubernetes service-account token: the
  // account, and the pod when the token is bound to one (impersonation
  // checks need them).
  std::string kube_namespace;
  std::string service_account;
  std::string pod_name;
  std::string pod_uid;
};

// Turns a call's credentials into caller identities. Implementations are
// thread-safe; Authenticate may block (network calls) and runs on a worker
// thread, never on a gRPC completion thread.
class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // A short name for logs and metrics ("client-certificate", "jwt",
  // "token-review").
  virtual absl::string_view Name() const = 0;

  // True when the credential is the bearer token, so the request's
  // "clusterid" header applies to it (istiod checks it for tokens only).
  virtual bool UsesBearerToken() const = 0;

  // False when Authenticate never waits on another process or the network
  // (a client certificate, a JWKS file): the server may then answer on
  // gRPC's thread instead of handing the call to its worker pool, sparing
  // a thread wake-up and a context switch per call.
  virtual bool MayBlock() const { return true; }

  // Returns the caller, or Unauthenticated with a message saying what was
  // missing or wrong (never the token itself): "no client certificate",
  // "token expired at ...". Unavailable when a remote check (TokenReview)
  // could not be made.
  virtual absl::StatusOr<Caller> Authenticate(const AuthRequest& request) = 0;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_AUTHENTICATOR_H_
