#include "vault/testing/fake_vault.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"
#include "httplib.h"

namespace vaultca {
namespace vault {
namespace testing {

using ::vaultca::internal::SslUniquePtr;

struct FakeVault::Server {
  std::unique_ptr<httplib::Server> http;
  std::thread thread;
};

namespace {

// Loads the PEM certificate chain, key and client CA into `ctx`.
bool ConfigureSslCtx(SSL_CTX& ctx, const FakeVault::Options& options) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SslUniquePtr<BIO> cert_bio(
      BIO_new_mem_buf(options.cert_pem.data(),
                      static_cast<int>(options.cert_pem.size())));
  SslUniquePtr<X509> leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (leaf == nullptr || SSL_CTX_use_certificate(&ctx, leaf.get()) != 1) {
    return false;
  }
  // Anything after the leaf is sent as the chain.
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    SSL_CTX_add_extra_chain_cert(&ctx, extra);
  }
  ERR_clear_error();
  SslUniquePtr<BIO> key_bio(BIO_new_mem_buf(
      options.key_pem.data(), static_cast<int>(options.key_pem.size())));
  SslUniquePtr<EVP_PKEY> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr || SSL_CTX_use_PrivateKey(&ctx, key.get()) != 1) {
    return false;
  }
  if (!options.client_ca_pem.empty()) {
    SslUniquePtr<BIO> ca_bio(BIO_new_mem_buf(
        options.client_ca_pem.data(),
        static_cast<int>(options.client_ca_pem.size())));
    SslUniquePtr<X509> ca(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
    if (ca == nullptr) return false;
    X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
    if (X509_STORE_add_cert(store, ca.get()) != 1) return false;
    SSL_CTX_add_client_CA(&ctx, ca.get());
    // Ask for a certificate, verify one if sent, allow none.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
  }
  return true;
}

RecordedRequest Record(const httplib::Request& req) {
  RecordedRequest out;
  out.method = req.method;
  out.path = req.path;
  for (const auto& [k, v] : req.params) out.params[k] = v;
  for (const auto& [k, v] : req.headers) out.headers[absl::AsciiStrToLower(k)] = v;
  out.body = req.body;
  if (req.ssl != nullptr) {
    SslUniquePtr<X509> peer(SSL_get1_peer_certificate(req.ssl));
    out.client_cert =
        peer != nullptr && SSL_get_verify_result(req.ssl) == X509_V_OK;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeVault>> FakeVault::Start(
    const Options& options) {
  std::unique_ptr<FakeVault> fake(new FakeVault());
  fake->server_ = std::make_unique<Server>();
  fake->tls_ = !options.cert_pem.empty();
  if (fake->tls_) {
    std::atomic<bool> configured{false};
    fake->server_->http = std::make_unique<httplib::SSLServer>(
        [options, &configured](SSL_CTX& ctx) {
          configured = ConfigureSslCtx(ctx, options);
          return configured.load();
        });
    if (!configured) {
      return ::vaultca::internal::SslError(absl::StatusCode::kInternal,
                                           "fake Vault TLS setup");
    }
  } else {
    fake->server_->http = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *fake->server_->http;
  FakeVault* self = fake.get();
  auto handler = [self](const httplib::Request& req, httplib::Response& res) {
    Reply reply = self->Dispatch(Record(req));
    if (reply.delay > absl::ZeroDuration()) absl::SleepFor(reply.delay);
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    if (reply.truncate) {
      std::string body = reply.body;
      res.set_content_provider(
          body.size() + 1000, "application/json",
          [body](size_t offset, size_t, httplib::DataSink& sink) {
            if (offset == 0) sink.write(body.data(), body.size());
            return offset == 0;  // Then abort: the client sees a short body.
          });
    } else {
      res.set_content(reply.body, "application/json");
    }
  };
  http.Get(".*", handler);
  http.Post(".*", handler);
  http.Put(".*", handler);
  http.Delete(".*", handler);
  http.set_keep_alive_max_count(1000);
  fake->port_ = http.bind_to_any_port("127.0.0.1");
  if (fake->port_ <= 0) {
    return absl::InternalError("fake Vault could not bind 127.0.0.1");
  }
  fake->server_->thread = std::thread([&http] { http.listen_after_bind(); });
  for (int i = 0; i < 500 && !http.is_running(); ++i) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  return fake;
}

FakeVault::~FakeVault() {
  if (server_ != nullptr && server_->http != nullptr) {
    server_->http->stop();
    if (server_->thread.joinable()) server_->thread.join();
  }
}

std::string FakeVault::address() const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

void FakeVault::Handle(const std::string& method, const std::string& path,
                       Handler handler) {
  MutexLock lock(&mu_);
  handlers_[{method, path}] = std::move(handler);
}

void FakeVault::SetJson(const std::string& method, const std::string& path,
                        int status, const std::string& body) {
  Handle(method, path, [status, body](const RecordedRequest&) {
    Reply reply;
    reply.status = status;
    reply.body = body;
    return reply;
  });
}

void FakeVault::SetSequence(const std::string& method, const std::string& path,
                            std::vector<Reply> replies) {
  auto state = std::make_shared<std::pair<Mutex, size_t>>();
  auto shared = std::make_shared<std::vector<Reply>>(std::move(replies));
  Handle(method, path, [state, shared](const RecordedRequest&) {
    MutexLock lock(&state->first);
    const size_t i = std::min(state->second, shared->size() - 1);
    ++state->second;
    return (*shared)[i];
  });
}

void FakeVault::RequireToken(const std::string& token) {
  MutexLock lock(&mu_);
  required_token_ = token;
}

Reply FakeVault::Dispatch(const RecordedRequest& request) {
  Handler handler;
  {
    MutexLock lock(&mu_);
    requests_.push_back(request);
    const bool exempt = request.path == "/v1/sys/health" ||
                        (absl::StartsWith(request.path, "/v1/auth/") &&
                         absl::EndsWith(request.path, "/login"));
    if (!required_token_.empty() && !exempt &&
        request.Header("x-vault-token") != required_token_) {
      Reply denied;
      denied.status = 403;
      denied.body = R"({"errors":["permission denied"]})";
      return denied;
    }
    auto it = handlers_.find({request.method, request.path});
    if (it != handlers_.end()) handler = it->second;
  }
  if (!handler) {
    Reply missing;
    missing.status = 404;
    missing.body = R"({"errors":[]})";
    return missing;
  }
  return handler(request);
}

long FakeVault::TlsHandshakes() const {
  if (!tls_) return 0;
  auto* ssl = static_cast<httplib::SSLServer*>(server_->http.get());
  return SSL_CTX_sess_accept_good(ssl->ssl_context());
}

std::vector<RecordedRequest> FakeVault::requests() const {
  MutexLock lock(&mu_);
  return requests_;
}

int FakeVault::Count(const std::string& method, const std::string& path) const {
  MutexLock lock(&mu_);
  int n = 0;
  for (const RecordedRequest& r : requests_) {
    if (r.method == method && r.path == path) ++n;
  }
  return n;
}

void FakeVault::ClearRequests() {
  MutexLock lock(&mu_);
  requests_.clear();
}

std::string KvV2Body(const std::string& data_json, int version) {
  return absl::StrCat(
      R"({"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,)",
      R"("data":{"data":)", data_json,
      R"(,"metadata":{"created_time":"2024-01-01T00:00:00Z","custom_metadata":null,)",
      R"("deletion_time":"","destroyed":false,"version":)", version,
      R"(}},"wrap_info":null,"warnings":null,"auth":null})");
}

std::string KvV1Body(const std::string& data_json) {
  return absl::StrCat(
      R"({"request_id":"r","lease_id":"","renewable":false,"lease_duration":2764800,)",
      R"("data":)", data_json, R"(,"wrap_info":null,"warnings":null,"auth":null})");
}

std::string LoginBody(const std::string& token, int lease_seconds,
                      bool renewable) {
  return absl::StrCat(
      R"({"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,)",
      R"("data":null,"wrap_info":null,"warnings":null,"auth":{"client_token":")",
      token, R"(","accessor":"acc","policies":["default"],"token_policies":["default"],)",
      R"("metadata":{},"lease_duration":)", lease_seconds,
      R"(,"renewable":)", renewable ? "true" : "false",
      R"(,"entity_id":"","token_type":"service","orphan":true,"num_uses":0}})");
}

}  // namespace testing
}  // namespace vault
}  // namespace vaultca
