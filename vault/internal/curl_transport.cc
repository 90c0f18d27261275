// libcurl implementation of HttpTransport.

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/internal/curl_unique_ptr.h"
#include "common/sync.h"
#include "vault/internal/http_transport.h"
#include "vault/internal/url.h"

namespace vaultca {
namespace vault {
namespace internal {

using ::vaultca::internal::CurlUniquePtr;
using ::vaultca::internal::EnsureCurlGlobalInit;

namespace {

// Idle easy handles kept for reuse; each keeps its own connection cache.
constexpr size_t kMaxIdleHandles = 8;

// State the curl callbacks of one exchange write into.
struct Exchange {
  HttpResponse response;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * nmemb;
  if (ex->response.body.size() + n > kMaxResponseBytes) {
    ex->too_large = true;
    return 0;  // Makes curl fail the transfer with CURLE_WRITE_ERROR.
  }
  ex->response.body.Append(absl::string_view(data, n));
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * nmemb;
  absl::string_view line(data, n);
  // A new status line (after 100 Continue, say) starts a new header block.
  if (absl::StartsWith(line, "HTTP/")) {
    ex->response.retry_after.clear();
    ex->response.location.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  const std::string name = absl::AsciiStrToLower(line.substr(0, colon));
  absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  if (name == "retry-after") ex->response.retry_after = std::string(value);
  if (name == "location") ex->response.location = std::string(value);
  return n;
}

bool Readable(const std::string& path) {
  return access(path.c_str(), R_OK) == 0;
}

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(const VaultConfig& config)
      : tls_(config.tls),
        connect_timeout_(config.connect_timeout),
        request_timeout_(config.request_timeout),
        allow_http_(config.allow_plaintext_http) {}

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                    absl::Time deadline) override {
    absl::StatusOr<Url> url = ParseUrl(request.url);
    if (!url.ok()) return url.status();
    if (!url->is_https() && !allow_http_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing plain http request to ", url->Origin(),
          ": the token would travel unencrypted (allow_plaintext_http is off)"));
    }
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline passed before ", request.method, " ", url->Origin(),
          url->path, " could be sent"));
    }

    CurlUniquePtr<CURL> handle = Acquire();
    if (handle == nullptr) {
      return absl::ResourceExhaustedError("curl_easy_init failed");
    }
    Exchange ex;
    CurlUniquePtr<curl_slist> headers;
    CurlUniquePtr<curl_slist> connect_to;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    CURL* h = handle.get();

    std::string effective_url = request.url;
    if (url->is_https() && !tls_.server_name.empty()) {
      // Verify and send SNI for server_name while connecting to the
      // address's host: rewrite the URL host and map it back with
      // CONNECT_TO.
      effective_url = absl::StrCat("https://", tls_.server_name, ":",
                                   url->port, url->path);
      connect_to.reset(curl_slist_append(
          nullptr, absl::StrCat(tls_.server_name, ":", url->port, ":",
                                url->HostForUrl(), ":", url->port)
                       .c_str()));
      curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to.get());
    }

    curl_easy_setopt(h, CURLOPT_URL, effective_url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                     allow_http_ ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION,
                     static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, tls_.skip_verify ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, tls_.skip_verify ? 0L : 2L);
    // A configured CA file or directory replaces the system store, as
    // VAULT_CACERT does in the Go client.
    if (!tls_.ca_cert_file.empty() || !tls_.ca_path.empty()) {
      curl_easy_setopt(h, CURLOPT_CAINFO,
                       tls_.ca_cert_file.empty() ? nullptr
                                                 : tls_.ca_cert_file.c_str());
      curl_easy_setopt(h, CURLOPT_CAPATH,
                       tls_.ca_path.empty() ? nullptr : tls_.ca_path.c_str());
    }
    if (!tls_.client_cert_file.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLCERT, tls_.client_cert_file.c_str());
      curl_easy_setopt(h, CURLOPT_SSLKEY, tls_.client_key_file.c_str());
    }
    const int64_t remaining_ms = std::max<int64_t>(
        1, absl::ToInt64Milliseconds(std::min(remaining, request_timeout_)));
    curl_easy_setopt(
        h, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::min<int64_t>(
            remaining_ms, absl::ToInt64Milliseconds(connect_timeout_))));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining_ms));

    // curl would send "Expect: 100-continue" for large bodies; Vault does
    // not need the extra round trip.
    curl_slist* list = curl_slist_append(nullptr, "Expect:");
    for (const auto& [name, value] : request.headers) {
      list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
    }
    if (!request.token.empty()) {
      SecretData line("X-Vault-Token: ");
      line.Append(request.token.view());
      line.Append(absl::string_view("\0", 1));
      list = curl_slist_append(list, line.data());
    }
    headers.reset(list);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

    if (request.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      if (request.method != "POST") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      }
      if (request.method == "POST" || request.method == "PUT" ||
          !request.body.empty()) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                         request.body.empty() ? "" : request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
      } else {
        curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
      }
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ex);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &ex);

    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    // The header list and CONNECT_TO list die with this scope; make the
    // handle forget them before it goes back to the pool.
    curl_easy_reset(h);
    Release(std::move(handle));

    if (rc != CURLE_OK) {
      return TranslateError(rc, error_buffer, request.method, *url, deadline,
                            ex.too_large);
    }
    ex.response.status = static_cast<int>(status);
    return std::move(ex.response);
  }

 private:
  CurlUniquePtr<CURL> Acquire() {
    {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        CurlUniquePtr<CURL> handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
      }
    }
    return CurlUniquePtr<CURL>(curl_easy_init());
  }

  void Release(CurlUniquePtr<CURL> handle) {
    MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(handle));
  }

  absl::Status TranslateError(CURLcode rc, const char* error_buffer,
                              const std::string& method, const Url& url,
                              absl::Time deadline, bool too_large) const {
    const std::string detail =
        error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    const std::string what =
        absl::StrCat(method, " ", url.Origin(), url.path, ": ", detail);
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        if (absl::Now() >= deadline - absl::Milliseconds(5)) {
          return absl::DeadlineExceededError(
              absl::StrCat("Vault did not answer before the deadline: ", what));
        }
        return absl::UnavailableError(
            absl::StrCat("Vault attempt timed out: ", what));
      case CURLE_PEER_FAILED_VERIFICATION:
        return absl::FailedPreconditionError(absl::StrCat(
            "TLS verification of the Vault server failed (", what,
            "): point VAULT_CACERT/VAULT_CAPATH at the CA that issued "
            "Vault's certificate, or set VAULT_TLS_SERVER_NAME to a name in "
            "it"));
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_ENGINE_NOTFOUND:
      case CURLE_SSL_ENGINE_SETFAILED:
        return absl::FailedPreconditionError(absl::StrCat(
            "TLS setup for Vault failed (", what,
            "): check VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT and "
            "VAULT_CLIENT_KEY"));
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        return absl::FailedPreconditionError(
            absl::StrCat("request refused by the client: ", what));
      case CURLE_WRITE_ERROR:
        if (too_large) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "Vault response larger than ", kMaxResponseBytes,
              " bytes: ", method, " ", url.Origin(), url.path));
        }
        return absl::InternalError(absl::StrCat("Vault request: ", what));
      default:
        return absl::UnavailableError(
            absl::StrCat("could not reach Vault: ", what));
    }
  }

  const TlsConfig tls_;
  const absl::Duration connect_timeout_;
  const absl::Duration request_timeout_;
  const bool allow_http_;
  Mutex mu_;
  std::vector<CurlUniquePtr<CURL>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpTransport>> NewCurlTransport(
    const VaultConfig& config) {
  absl::Status init = EnsureCurlGlobalInit();
  if (!init.ok()) return init;
  const TlsConfig& tls = config.tls;
  struct FileCheck {
    const std::string& path;
    const char* var;
  };
  for (const FileCheck& f :
       {FileCheck{tls.ca_cert_file, "VAULT_CACERT"},
        FileCheck{tls.client_cert_file, "VAULT_CLIENT_CERT"},
        FileCheck{tls.client_key_file, "VAULT_CLIENT_KEY"}}) {
    if (!f.path.empty() && !Readable(f.path)) {
      return absl::InvalidArgumentError(
          absl::StrCat(f.var, " file '", f.path, "' cannot be read: ",
                       std::strerror(errno)));
    }
  }
  if (!tls.ca_path.empty() && !Readable(tls.ca_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VAULT_CAPATH directory '", tls.ca_path,
                     "' cannot be read: ", std::strerror(errno)));
  }
  return std::unique_ptr<HttpTransport>(new CurlTransport(config));
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
