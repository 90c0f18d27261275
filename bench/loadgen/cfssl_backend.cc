// cfssl backend: POST /api/v1/cfssl/sign {"certificate_request": PEM} with
// one curl easy handle per worker thread (kept-alive connection each, like
// the gRPC backend's channels), optionally over mutual TLS.

#include <curl/curl.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/backends.h"
#include "bench/loadgen/worker_pool.h"
#include "common/internal/curl_unique_ptr.h"

namespace vaultca {
namespace bench {
namespace {

using ::vaultca::internal::CurlUniquePtr;

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

class CfsslBackend : public Backend {
 public:
  explicit CfsslBackend(const BackendOptions& o) : options_(o) {
    (void)internal::EnsureCurlGlobalInit();
    for (const std::string& csr : o.csrs) {
      bodies_.push_back("{\"certificate_request\":\"" + JsonEscape(csr) + "\"}");
    }
    for (int i = 0; i < o.workers; ++i) handles_.push_back(NewHandle());
    headers_.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    pool_ = std::make_unique<WorkerPool>(o.workers);
  }
  ~CfsslBackend() override { pool_.reset(); }

  bool Prepare() override {
    for (size_t i = 0; i < handles_.size(); ++i) {
      int code = Do(handles_[i].get(), 0, 10);
      if (code != 0) {
        std::fprintf(stderr, "loadgen: cfssl worker %zu: first request: code %d\n",
                     i, code);
        return false;
      }
    }
    return true;
  }

  void Issue(int csr, std::function<void(int)> done) override {
    pool_->Submit([this, csr, done = std::move(done)](int worker) {
      done(Do(handles_[worker].get(), csr,
              static_cast<long>(absl::ToInt64Seconds(options_.deadline))));
    });
  }

  int IssueFresh(int csr) override {
    CurlUniquePtr<CURL> handle = NewHandle();
    return Do(handle.get(), csr, 1);
  }

 private:
  CurlUniquePtr<CURL> NewHandle() {
    CurlUniquePtr<CURL> h(curl_easy_init());
    CURL* c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, (options_.url + "/api/v1/cfssl/sign").c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    if (!options_.root_file.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, options_.root_file.c_str());
    }
    if (!options_.client_cert_file.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERT, options_.client_cert_file.c_str());
      curl_easy_setopt(c, CURLOPT_SSLKEY, options_.client_key_file.c_str());
    }
    return h;
  }

  // Maps transport failures to UNAVAILABLE, HTTP 4xx to INVALID_ARGUMENT,
  // other non-success answers to INTERNAL, as the gRPC peers would report.
  int Do(CURL* c, int csr, long timeout_s) {
    std::string body;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, bodies_[csr].c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(bodies_[csr].size()));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    if (curl_easy_perform(c) != CURLE_OK) return 14;
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    if (http >= 400 && http < 500) return 3;
    if (http != 200 || body.find("\"success\":true") == std::string::npos ||
        body.find("BEGIN CERTIFICATE") == std::string::npos) {
      return 13;
    }
    return 0;
  }

  const BackendOptions options_;
  std::vector<std::string> bodies_;
  std::vector<CurlUniquePtr<CURL>> handles_;
  CurlUniquePtr<curl_slist> headers_;
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace

std::unique_ptr<Backend> NewCfsslBackend(const BackendOptions& options) {
  return std::make_unique<CfsslBackend>(options);
}

}  // namespace bench
}  // namespace vaultca
