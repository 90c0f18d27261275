#include "common/internal/https_request.h"

#include <curl/curl.h>

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/internal/curl_unique_ptr.h"

namespace vaultca {
namespace internal {
namespace {

// Every header line in one curl list.
absl::StatusOr<CurlUniquePtr<curl_slist>> HeaderList(
    absl::Span<const std::string> headers) {
  CurlUniquePtr<curl_slist> list;
  for (const std::string& line : headers) {
    curl_slist* appended = curl_slist_append(list.get(), line.c_str());
    if (appended == nullptr) return absl::ResourceExhaustedError("out of memory");
    list.release();
    list.reset(appended);
  }
  return list;
}

// The transport every exchange gets: https only, the peer certificate and
// host name verified (against `ca_file` when set), TLS 1.2 or later.
// Redirects are not followed: a control-plane answer that moves is an
// operator error worth seeing, not something to chase silently.
void SetUpHttps(CURL* h, const std::string& url, curl_slist* headers,
                const std::string& ca_file) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
}

struct Sink {
  std::string* body;
  size_t limit;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (sink->body->size() + n > sink->limit) {
    sink->too_large = true;
    return 0;  // Makes curl fail the transfer with CURLE_WRITE_ERROR.
  }
  sink->body->append(data, n);
  return n;
}

}  // namespace

absl::StatusOr<HttpsResponse> HttpsRequest(
    const char* method, const std::string& url,
    absl::Span<const std::string> headers, const absl::string_view* body,
    const HttpsRequestOptions& options) {
  if (absl::Status s = EnsureCurlGlobalInit(); !s.ok()) return s;
  CurlUniquePtr<CURL> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  absl::StatusOr<CurlUniquePtr<curl_slist>> header_list = HeaderList(headers);
  if (!header_list.ok()) return header_list.status();

  HttpsResponse response;
  Sink sink{&response.body, options.max_response_bytes};
  CURL* h = curl.get();
  SetUpHttps(h, url, header_list->get(), options.ca_file);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.timeout)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  const CURLcode rc = curl_easy_perform(h);
  if (sink.too_large) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url, ": response larger than ",
                     options.max_response_bytes, " bytes"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url, " failed: ", curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.http_status);
  return response;
}

void HttpsCanceller::Cancel() {
  MutexLock lock(&mu_);
  cancelled_ = true;
  // Under the lock: HttpsStream detaches before it frees the handle.
  if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

bool HttpsCanceller::cancelled() const {
  MutexLock lock(&mu_);
  return cancelled_;
}

bool HttpsCanceller::Attach(void* multi) {
  MutexLock lock(&mu_);
  if (cancelled_) return false;
  multi_ = multi;
  return true;
}

void HttpsCanceller::Detach() {
  MutexLock lock(&mu_);
  multi_ = nullptr;
}

// Keeps a transfer attached to its canceller for its lifetime.
class StreamRegistration {
 public:
  StreamRegistration(HttpsCanceller* canceller, CURLM* multi)
      : canceller_(canceller) {
    attached_ = canceller_ == nullptr || canceller_->Attach(multi);
  }
  ~StreamRegistration() {
    if (canceller_ != nullptr && attached_) canceller_->Detach();
  }
  bool attached() const { return attached_; }
  bool cancelled() const {
    return canceller_ != nullptr && canceller_->cancelled();
  }

 private:
  HttpsCanceller* const canceller_;
  bool attached_ = false;
};

namespace {

struct StreamState {
  CURL* curl;
  const std::function<bool(long, absl::string_view)>* on_body;
  long http_status = 0;
  bool stopped_by_caller = false;
  absl::Time last_byte;
};

size_t OnStreamHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<StreamState*>(user);
  const size_t n = size * nmemb;
  state->last_byte = absl::Now();
  const absl::string_view line(data, n);
  if (line != "\r\n" && line != "\n") return n;
  // The end of a header block: interim (1xx) blocks are skipped.
  long code = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200) return n;
  state->http_status = code;
  if (!(*state->on_body)(code, absl::string_view())) {
    state->stopped_by_caller = true;
    return 0;
  }
  return n;
}

size_t OnStreamBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<StreamState*>(user);
  const size_t n = size * nmemb;
  state->last_byte = absl::Now();
  if (state->http_status == 0) {
    curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE,
                      &state->http_status);
  }
  if (!(*state->on_body)(state->http_status, absl::string_view(data, n))) {
    state->stopped_by_caller = true;
    return 0;
  }
  return n;
}

// Removes the easy handle from the multi handle before either is freed.
class MultiAttachment {
 public:
  MultiAttachment(CURLM* multi, CURL* easy) : multi_(multi), easy_(easy) {
    ok_ = curl_multi_add_handle(multi_, easy_) == CURLM_OK;
  }
  ~MultiAttachment() {
    if (ok_) curl_multi_remove_handle(multi_, easy_);
  }
  bool ok() const { return ok_; }

 private:
  CURLM* const multi_;
  CURL* const easy_;
  bool ok_ = false;
};

}  // namespace

absl::StatusOr<long> HttpsStream(
    const char* method, const std::string& url,
    absl::Span<const std::string> headers, const HttpsStreamOptions& options,
    HttpsCanceller* canceller,
    const std::function<bool(long http_status, absl::string_view piece)>& on_body) {
  if (absl::Status s = EnsureCurlGlobalInit(); !s.ok()) return s;
  CurlUniquePtr<CURL> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  CurlMultiUniquePtr multi(curl_multi_init());
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  absl::StatusOr<CurlUniquePtr<curl_slist>> header_list = HeaderList(headers);
  if (!header_list.ok()) return header_list.status();

  const absl::Time start = absl::Now();
  StreamState state{curl.get(), &on_body};
  state.last_byte = start;
  CURL* h = curl.get();
  SetUpHttps(h, url, header_list->get(), options.ca_file);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnStreamHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &state);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnStreamBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

  StreamRegistration registration(canceller, multi.get());
  auto cancelled = [&] {
    return absl::CancelledError(absl::StrCat(method, " ", url, ": cancelled"));
  };
  if (!registration.attached()) return cancelled();
  MultiAttachment attachment(multi.get(), h);
  if (!attachment.ok()) return absl::InternalError("curl_multi_add_handle failed");

  const absl::Time deadline = start + options.timeout;
  int running = 1;
  while (true) {
    CURLMcode mc = curl_multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) {
      return absl::InternalError(
          absl::StrCat("curl_multi_perform: ", curl_multi_strerror(mc)));
    }
    if (running == 0) break;
    if (registration.cancelled()) return cancelled();
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          method, " ", url, ": no complete answer within ",
          absl::FormatDuration(options.timeout)));
    }
    if (now - state.last_byte >= options.idle_timeout) {
      return absl::UnavailableError(absl::StrCat(
          method, " ", url, ": nothing received for ",
          absl::FormatDuration(options.idle_timeout)));
    }
    // Wakes for socket activity, curl's own timers, a Cancel(), or at the
    // next deadline this loop enforces.
    absl::Duration wait = std::min({deadline - now,
                                    state.last_byte + options.idle_timeout - now,
                                    absl::Seconds(1)});
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(wait)));
    mc = curl_multi_poll(multi.get(), nullptr, 0, wait_ms, nullptr);
    if (mc != CURLM_OK) {
      return absl::InternalError(
          absl::StrCat("curl_multi_poll: ", curl_multi_strerror(mc)));
    }
  }
  CURLcode rc = CURLE_OK;
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
    if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
  }
  if (state.stopped_by_caller) return state.http_status;
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url, " failed: ", curl_easy_strerror(rc)));
  }
  if (state.http_status == 0) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &state.http_status);
  }
  return state.http_status;
}

}  // namespace internal
}  // namespace vaultca
