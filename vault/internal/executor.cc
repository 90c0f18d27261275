#include "vault/internal/executor.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "vault/internal/retry.h"
#include "vault/internal/url.h"

namespace vaultca {
namespace vault {
namespace internal {
namespace {

bool IsRedirect(int status) { return status == 307 || status == 308; }

// Resolves a Location header against the request URL: absolute URLs as
// they are, absolute paths against the request's origin.
absl::StatusOr<std::string> ResolveLocation(const std::string& request_url,
                                            const std::string& location) {
  if (absl::StartsWith(location, "/")) {
    absl::StatusOr<Url> base = ParseUrl(request_url);
    if (!base.ok()) return base.status();
    return absl::StrCat(base->Origin(), location);
  }
  return location;
}

std::string Describe(const HttpRequest& request) {
  absl::StatusOr<Url> url = ParseUrl(request.url);
  if (!url.ok()) return request.method;
  return absl::StrCat(request.method, " ", url->path);
}

}  // namespace

RequestExecutor::RequestExecutor(std::unique_ptr<HttpTransport> transport,
                                 RetrySettings settings,
                                 std::function<void(absl::Duration)> sleep,
                                 std::function<double()> uniform01)
    : transport_(std::move(transport)),
      settings_(settings),
      sleep_(std::move(sleep)),
      uniform01_(std::move(uniform01)) {}

absl::StatusOr<HttpResponse> RequestExecutor::SendFollowingRedirect(
    const HttpRequest& request, absl::Time deadline) {
  absl::StatusOr<HttpResponse> response = transport_->Send(request, deadline);
  if (!response.ok() || !IsRedirect(response->status)) return response;

  if (response->location.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "Vault ", Describe(request), ": HTTP ", response->status,
        " redirect without a Location header"));
  }
  absl::StatusOr<std::string> target =
      ResolveLocation(request.url, response->location);
  if (!target.ok()) return target.status();
  absl::StatusOr<Url> from = ParseUrl(request.url);
  absl::StatusOr<Url> to = ParseUrl(*target);
  if (!from.ok()) return from.status();
  if (!to.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Vault ", Describe(request), " redirected to an invalid "
                     "location: ", to.status().message()));
  }
  if (from->is_https() && !to->is_https()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Vault ", Describe(request), " redirected from https to plain http (",
        to->Origin(), "): refused, the token would travel unencrypted; fix "
        "the active node's api_addr"));
  }
  HttpRequest redirected = request;
  redirected.url = *target;
  absl::StatusOr<HttpResponse> second = transport_->Send(redirected, deadline);
  if (second.ok() && IsRedirect(second->status)) {
    return absl::UnavailableError(absl::StrCat(
        "Vault ", Describe(request), " redirected twice (to ", to->Origin(),
        " and on): only one redirect is followed"));
  }
  return second;
}

absl::StatusOr<HttpResponse> RequestExecutor::Send(const HttpRequest& request,
                                                   absl::Time deadline,
                                                   bool retry) {
  const int max_retries = retry ? settings_.max_retries : 0;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<HttpResponse> response =
        SendFollowingRedirect(request, deadline);
    std::optional<absl::Duration> retry_after;
    if (!response.ok()) {
      if (!IsRetryableTransportError(response.status())) return response;
    } else if (!IsRetryableHttpStatus(response->status)) {
      return response;
    } else {
      retry_after = ParseRetryAfter(response->retry_after, absl::Now());
    }

    auto give_up = [&](absl::string_view why) -> absl::StatusOr<HttpResponse> {
      if (response.ok()) return response;
      return absl::Status(
          response.status().code(),
          absl::StrCat(response.status().message(), " (", attempt + 1,
                       attempt == 0 ? " attempt" : " attempts", why, ")"));
    };
    if (attempt >= max_retries) return give_up("");
    absl::Duration wait =
        JitteredBackoff(attempt, settings_.base_backoff, settings_.max_backoff,
                        uniform01_());
    if (retry_after.has_value()) wait = std::max(wait, *retry_after);
    if (absl::Now() + wait >= deadline) {
      return give_up("; the next retry would pass the deadline");
    }
    sleep_(wait);
  }
}

}  // namespace internal
}  // namespace vault
}  // namespace vaultca
