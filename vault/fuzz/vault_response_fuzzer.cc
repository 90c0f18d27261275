// Fuzzes everything vaultca reads from Vault's HTTP answers: KV v1/v2
// bodies, login and renewal (auth.client_token, lease_duration), health,
// error bodies ("errors"), and the Retry-After and Location headers of
// retries and redirects. Runs the response parsers directly and the real
// VaultClient over a transport that replays fuzzed responses.
//
// Input (FuzzInput framing): one byte picking the client operation, one
// byte of max_retries, then up to 8 responses, each: status (2 bytes),
// Retry-After, Location, body.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/secret_data.h"
#include "common/testing/fuzz_input.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"
#include "vault/auth.h"
#include "vault/client.h"
#include "vault/internal/client_impl.h"
#include "vault/internal/http_transport.h"
#include "vault/internal/kv_parse.h"
#include "vault/internal/vault_errors.h"
#include "vault/reference.h"

namespace vaultca {
namespace vault {
namespace fuzzing {
namespace {

using ::vaultca::fuzzing::Check;
using ::vaultca::fuzzing::FuzzInput;
using ::vaultca::fuzzing::FuzzInputWriter;

constexpr int kMaxResponses = 8;

// Replays the fuzzed responses in order; then the network is "down".
class ReplayTransport : public internal::HttpTransport {
 public:
  explicit ReplayTransport(std::deque<internal::HttpResponse> responses)
      : responses_(std::move(responses)) {}
  absl::StatusOr<internal::HttpResponse> Send(const internal::HttpRequest&,
                                              absl::Time) override {
    if (responses_.empty()) return absl::UnavailableError("replay ended");
    internal::HttpResponse r = std::move(responses_.front());
    responses_.pop_front();
    return r;
  }

 private:
  std::deque<internal::HttpResponse> responses_;
};

class AppRoleLogin : public Authenticator {
 public:
  AuthMethod method() const override { return AuthMethod::kAppRole; }
  absl::StatusOr<Credentials> GetCredentials() const override {
    Credentials c;
    c.login_path = "auth/approle/login";
    c.login_body = SecretData(R"({"role_id":"r","secret_id":"s"})");
    return c;
  }
};

struct Response {
  int status = 200;
  std::string retry_after, location, body;
};

std::string Encode(int op, int retries, const std::vector<Response>& rs) {
  FuzzInputWriter w;
  w.Uint(op, 1).Uint(retries, 1);
  for (const Response& r : rs) {
    w.Uint(r.status, 2).Field(r.retry_after).Field(r.location).Field(r.body);
  }
  return w.data();
}

void RunClient(int op, int retries, std::deque<internal::HttpResponse> rs) {
  VaultConfig config;
  config.address = "https://vault.fuzz:8200";
  config.auth.method = AuthMethod::kAppRole;
  config.max_retries = retries;
  ClientOptions options;
  options.sleep = [](absl::Duration) {};  // Retry-After may ask for years.
  options.uniform01 = [] { return 0.5; };
  options.warn = [](absl::string_view) {};
  options.background_renewal = false;  // One thread: replays are ordered.
  internal::VaultClientImpl client(config, std::move(options),
                                   std::make_shared<AppRoleLogin>(),
                                   std::make_unique<ReplayTransport>(
                                       std::move(rs)));
  switch (op % 7) {
    case 0:
      (void)client.ReadKv("secret/data/pki/istiod", 0);
      break;
    case 1:
      (void)client.ReadKv("kv/pki/istiod", 3);
      break;
    case 2:
      (void)client.Login();
      (void)client.token_info();
      break;
    case 3:
      if (auto health = client.Health(); health.ok()) {
        (void)health->ToStatus();
      }
      break;
    case 4:
      (void)client.Read("pki/cert/ca");
      break;
    case 5: {
      const Reference refs[] = {{"secret/data/a", "certificate", 0},
                                {"secret/data/a", "privateKey", 0},
                                {"kv/b", "chain", 2}};
      (void)client.ReadReferences(refs);
      break;
    }
    case 6:
      (void)client.Write("pki/sign/istiod", R"({"csr":"x"})");
      break;
  }
}

}  // namespace
}  // namespace fuzzing
}  // namespace vault

namespace fuzzing {

std::vector<std::string> Seeds() {
  using vault::fuzzing::Encode;
  using R = vault::fuzzing::Response;
  const R login{200, "", "",
                R"({"request_id":"1","auth":{"client_token":"hvs.CAESIJ",)"
                R"("accessor":"a","policies":["default","pki"],)"
                R"("token_policies":["default"],"lease_duration":2764800,)"
                R"("renewable":true}})"};
  const R short_login{200, "", "",
                      R"({"auth":{"client_token":"t","lease_duration":"1",)"
                      R"("renewable":false}})"};
  const R kv2{200, "", "",
              R"({"data":{"data":{"certificate":"-----BEGIN CERTIFICATE-----)"
              R"(\nMIIB\n-----END CERTIFICATE-----\n","privateKey":"k",)"
              R"("chain":"c"},"metadata":{"created_time":)"
              R"("2024-01-01T00:00:00.000000Z","deletion_time":"",)"
              R"("destroyed":false,"version":3}}})"};
  const R kv1{200, "", "",
              R"({"data":{"certificate":"c","privateKey":"k","chain":"x"},)"
              R"("lease_duration":2764800,"renewable":false})"};
  const R deleted{404, "", "",
                  R"({"data":{"data":null,"metadata":{"deletion_time":)"
                  R"("2024-02-01T00:00:00Z","destroyed":false,"version":2}}})"};
  const R destroyed{200, "", "",
                    R"({"data":{"data":null,"metadata":{"deletion_time":"",)"
                    R"("destroyed":true,"version":2}}})"};
  const R denied{403, "", "", R"({"errors":["permission denied"]})"};
  const R sealed{503, "2", "", R"({"errors":["Vault is sealed"]})"};
  const R busy{429, "Wed, 21 Oct 2015 07:28:00 GMT", "", ""};
  const R redirect{307, "", "https://vault-1.fuzz:8200/v1/secret/data/a", ""};
  const R relative{307, "", "/v1/secret/data/pki/istiod", ""};
  const R health{200, "", "",
                 R"({"initialized":true,"sealed":false,"standby":false,)"
                 R"("version":"1.15.0","cluster_name":"vault-cluster"})"};
  const R standby{429, "", "",
                  R"({"initialized":true,"sealed":false,"standby":true})"};
  return {
      Encode(0, 2, {login, kv2}),
      Encode(1, 2, {login, kv1}),
      Encode(0, 2, {login, deleted}),
      Encode(1, 0, {login, destroyed}),
      Encode(0, 2, {login, denied, login, kv2}),
      Encode(0, 2, {sealed, busy, login, relative, kv2}),
      Encode(2, 1, {short_login}),
      Encode(2, 1, {denied}),
      Encode(3, 0, {health}),
      Encode(3, 0, {standby}),
      Encode(4, 1, {login, redirect, kv1}),
      Encode(5, 2, {login, kv2, kv1}),
      Encode(6, 0, {short_login, short_login, kv1}),
  };
}

}  // namespace fuzzing
}  // namespace vaultca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace vi = ::vaultca::vault::internal;
  ::vaultca::fuzzing::FuzzInput in(data, size);
  const int op = static_cast<int>(in.Uint(1));
  const int retries = static_cast<int>(in.Uint(1) % 4);
  std::deque<vi::HttpResponse> responses;
  while (!in.Rest().empty() &&
         responses.size() < ::vaultca::vault::fuzzing::kMaxResponses) {
    vi::HttpResponse r;
    r.status = static_cast<int>(in.Uint(2));
    r.retry_after = in.Field();
    r.location = in.Field();
    r.body = ::vaultca::SecretData(in.Field());
    responses.push_back(std::move(r));
  }
  // The parsers on their own, over each response.
  for (const vi::HttpResponse& r : responses) {
    (void)vi::ParseKvResponse("secret/data/a", 2, r.status, r.body.view());
    (void)vi::ParseKvResponse("kv/a", 0, r.status, r.body.view());
    (void)vi::VaultErrorMessages(r.body.view());
    (void)vi::HttpErrorToStatus(r.status, "GET x", r.body.view());
  }
  ::vaultca::vault::fuzzing::RunClient(op, retries, std::move(responses));
  return 0;
}
