#ifndef VAULTCA_VAULT_TESTING_FAKE_VAULT_H_
#define VAULTCA_VAULT_TESTING_FAKE_VAULT_H_

// A fake Vault on the wire for tests: a real HTTPS (or plain HTTP) server
// on 127.0.0.1 with an ephemeral port, answering per-endpoint JSON, status
// and handler overrides, and recording every request it receives.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/sync.h"

namespace vaultca {
namespace vault {
namespace testing {

// One request as the fake saw it. Header names are lower case.
struct RecordedRequest {
  std::string method;
  std::string path;  // "/v1/secret/data/x"
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> headers;
  std::string body;
  bool client_cert = false;  // A verified TLS client certificate was sent.

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// What the fake answers.
struct Reply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Waits this long before answering (slow Vault).
  absl::Duration delay = absl::ZeroDuration();
  // Announces a longer body than it sends, then drops the connection.
  bool truncate = false;
};

class FakeVault {
 public:
  using Handler = std::function<Reply(const RecordedRequest&)>;

  struct Options {
    // Serve HTTPS with this certificate chain and key (PEM); plain HTTP
    // when both are empty.
    std::string cert_pem;
    std::string key_pem;
    // When set, ask for a TLS client certificate and verify it against
    // this CA (an absent certificate is allowed; see client_cert).
    std::string client_ca_pem;
  };

  // Starts serving on 127.0.0.1 with a free port; returns when ready.
  static absl::StatusOr<std::unique_ptr<FakeVault>> Start(const Options& options);
  ~FakeVault();

  // "https://127.0.0.1:<port>" (or http://).
  std::string address() const;
  int port() const { return port_; }

  // Answers `method` `path` (exact, e.g. "/v1/secret/data/x") with
  // `handler`; replaces an earlier one. Unknown endpoints answer 404
  // {"errors":[]}.
  void Handle(const std::string& method, const std::string& path,
              Handler handler);
  // Answers with a fixed status and JSON body.
  void SetJson(const std::string& method, const std::string& path, int status,
               const std::string& body);
  // Answers a sequence of replies, one per request; the last one repeats.
  void SetSequence(const std::string& method, const std::string& path,
                   std::vector<Reply> replies);

  // Requires X-Vault-Token to equal `token` on every path except logins
  // (/v1/auth/*/login) and /v1/sys/health; others get 403
  // {"errors":["permission denied"]}. Empty: no check.
  void RequireToken(const std::string& token);

  // Number of completed TLS handshakes (new connections), 0 for plain http.
  long TlsHandshakes() const;

  std::vector<RecordedRequest> requests() const;
  // Number of requests received for `method` `path`.
  int Count(const std::string& method, const std::string& path) const;
  void ClearRequests();

 private:
  struct Server;
  FakeVault() = default;
  Reply Dispatch(const RecordedRequest& request);

  std::unique_ptr<Server> server_;
  int port_ = 0;
  bool tls_ = true;
  mutable Mutex mu_;
  std::map<std::pair<std::string, std::string>, Handler> handlers_
      ABSL_GUARDED_BY(mu_);
  std::string required_token_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// Returns a KV v2 read response body with `data_json` (a JSON object text)
// at `version`.
std::string KvV2Body(const std::string& data_json, int version);
// Returns a KV v1 read response body.
std::string KvV1Body(const std::string& data_json);
// Returns a login response body granting `token`.
std::string LoginBody(const std::string& token, int lease_seconds,
                      bool renewable);

}  // namespace testing
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_TESTING_FAKE_VAULT_H_
