// http.hpp - HTTP(S) over libcurl for the AWS clients: reuse, timeouts, retries.
//
// An HttpClient owns one CURL easy handle, so connections (and TLS sessions)
// are reused between requests to the same host; it is NOT thread-safe: one
// per thread (or per poller). perform() runs one request with the retry
// policy: network errors, HTTP 5xx and throttling answers (429, and 400 with
// a throttling error code, told by the RetryClassifier the caller passes)
// are retried with exponential backoff and full jitter, at most
// RetryPolicy::max_attempts times; other 4xx are returned at once. The sleep
// between attempts is injectable for tests (dates come from PREPARE's clock).
// perform() never throws except std::bad_alloc; a transport failure (or a
// PREPARE that threw) is an HttpResponse with status 0 and one line in `error`.
// Wire rules: no redirects followed, http/https only, no "Expect:" header,
// never curl's default form Content-Type, the body sent byte for byte.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sesame::aws {

using Headers = std::vector<std::pair<std::string, std::string>>;

// METHOD is sent as given. GET, HEAD and DELETE send no body (BODY is
// ignored); any other method sends BODY (possibly empty, with Content-Length).
// A header with an empty value is sent as "Name:" with nothing after it; when
// a body is sent and HEADERS has no Content-Type, none is sent at all.
struct HttpRequest {
    std::string method = "GET";
    std::string url;  // absolute: scheme, host, port, path, query
    Headers headers;  // sent as given (Host is set by curl from url unless given)
    std::string body;
    std::size_t max_response_bytes = 0;  // 0: no cap; over: status 0, "response too large (over N bytes)"
    // How much curl reads from the socket at a time (0: curl's 16 KiB). A GET
    // of a large body sets more: one recv() and one poll() per 16 KiB is most
    // of what receiving a 60 KB mail costs. The buffer stays with the client.
    std::size_t receive_buffer = 0;
};

struct HttpResponse {
    long status = 0;  // 0: no HTTP answer (see error)
    Headers headers;  // names lower-cased
    std::string body;
    std::string error;  // curl's one-line reason when status == 0
    int attempts = 0;   // how many tries it took

    // The first value of header NAME (any case), or "".
    std::string header(std::string_view name) const;
};

struct RetryPolicy {
    int max_attempts = 4;                       // 1: no retry
    std::chrono::milliseconds base_delay{100};  // first backoff ceiling
    std::chrono::milliseconds max_delay{5000};  // backoff ceiling cap
};

struct HttpOptions {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds total_timeout{30000};  // whole request (0: none); long polls add theirs
};

// Says whether a response should be retried (the default: status 0, 5xx, 429).
using RetryClassifier = std::function<bool(const HttpResponse&)>;
bool default_retryable(const HttpResponse& r);

class HttpClient {
  public:
    explicit HttpClient(HttpOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // One request, retried per POLICY. PREPARE (when set) is called before
    // every attempt to (re-)sign the request: SigV4 dates must be fresh. If
    // PREPARE throws, that attempt is the last: status 0, "cannot prepare
    // the request: <what>". So is a request that cannot be sent (a header
    // with a line break): status 0, no retry. A throwing RETRYABLE counts as
    // "do not retry".
    HttpResponse perform(HttpRequest request, const RetryPolicy& policy = {},
                         const RetryClassifier& retryable = default_retryable,
                         const std::function<void(HttpRequest&)>& prepare = {},
                         std::chrono::milliseconds extra_timeout = std::chrono::milliseconds{0});

    // One attempt, no retry, no PREPARE; attempts == 1.
    HttpResponse perform_once(const HttpRequest& request,
                              std::chrono::milliseconds extra_timeout = std::chrono::milliseconds{0});

    // For tests: replace the sleep between attempts (default: this_thread::sleep_for).
    void set_sleep(std::function<void(std::chrono::milliseconds)> sleep) { sleep_ = std::move(sleep); }

    // The delay before attempt N+1 (N >= 1): uniform in [0, min(max, base * 2^(N-1))].
    static std::chrono::milliseconds backoff(int attempt, const RetryPolicy& policy, std::mt19937_64& rng);

  private:
    struct Handle;
    std::unique_ptr<Handle> handle_;
    HttpOptions options_;
    std::function<void(std::chrono::milliseconds)> sleep_;
    std::mt19937_64 rng_;
};

}  // namespace sesame::aws
