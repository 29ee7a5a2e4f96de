// http.cpp - see http.hpp.
#include "aws/sdk/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#include "policy/text/ascii.hpp"

namespace sesame::aws {

namespace {

struct EasyCleanup {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyCleanup>;
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;

// curl_global_init is not thread-safe before 7.84 and must run once; its
// result is kept so every client can report it.
CURLcode global_init()
{
    static std::once_flag once;
    static CURLcode result = CURLE_OK;
    std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
    return result;
}

using text::iequals;

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// Replaces control characters so that a reason stays one line.
std::string one_line(std::string s)
{
    for (char& c : s)
        if (c == '\r' || c == '\n' || c == '\t') c = ' ';
    return std::string(trim(s));
}

constexpr std::size_t kMaxReserve = 64 << 20;  // what a Content-Length may reserve without a cap

// What the callbacks fill in during one transfer.
struct Transfer {
    HttpResponse* response = nullptr;
    std::size_t cap = 0;
    bool too_large = false;
    bool failed = false;   // std::bad_alloc inside a callback
    bool no_body = false;  // HEAD: a Content-Length but no body
};

extern "C" size_t write_body(char* data, size_t size, size_t count, void* user)
{
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (t->cap != 0 && t->response->body.size() + n > t->cap) {
        t->too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    try {
        t->response->body.append(data, n);
    } catch (...) {
        t->failed = true;
        return 0;
    }
    return n;
}

extern "C" size_t write_header(char* data, size_t size, size_t count, void* user)
{
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    std::string_view line(data, n);
    try {
        if (line.rfind("HTTP/", 0) == 0) {
            // A new response (after "100 Continue" or a 1xx): forget the last one's headers.
            t->response->headers.clear();
        } else if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            // An obsolete folded continuation line.
            if (!t->response->headers.empty()) {
                std::string_view more = trim(line);
                if (!more.empty()) t->response->headers.back().second += " " + std::string(more);
            }
        } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
            const auto& [name, value] = t->response->headers.emplace_back(
                text::ascii_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
            // Room for the whole body at once (an object of a megabyte would
            // otherwise be copied a dozen times as the string grows).
            std::size_t length = 0;
            if (name == "content-length" && !t->no_body &&
                std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc{} &&
                length <= (t->cap ? t->cap : kMaxReserve))
                t->response->body.reserve(length);
        }
    } catch (...) {
        t->failed = true;
        return 0;
    }
    return n;
}

// Why REQUEST cannot be sent as it is ("" when it can): a header that would
// split into two (or a name with a colon). Not worth retrying.
std::string invalid_request(const HttpRequest& request)
{
    for (const auto& [name, value] : request.headers)
        if (name.empty() || name.find_first_of("\r\n:") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos)
            return "header \"" + one_line(name) + "\" is empty or has a line break or a colon in it";
    return "";
}

bool method_sends_body(const std::string& method)
{
    return method != "GET" && method != "HEAD" && method != "DELETE";
}

}  // namespace

struct HttpClient::Handle {
    EasyPtr easy;
};

std::string HttpResponse::header(std::string_view name) const
{
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return "";
}

bool default_retryable(const HttpResponse& r)
{
    return r.status == 0 || r.status >= 500 || r.status == 429;
}

HttpClient::HttpClient(HttpOptions options)
    : handle_(std::make_unique<Handle>()),
      options_(options),
      sleep_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); })
{
    // Seeded per client: the jitter only has to differ between processes and clients.
    std::seed_seq seed{static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()),
                       static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(this))};
    rng_.seed(seed);
    if (global_init() == CURLE_OK) handle_->easy.reset(curl_easy_init());
    // A failed init is reported by perform_once(), which retries it.
}

HttpClient::~HttpClient() = default;

std::chrono::milliseconds HttpClient::backoff(int attempt, const RetryPolicy& policy, std::mt19937_64& rng)
{
    const long long base = std::max<long long>(0, policy.base_delay.count());
    const long long cap = std::max<long long>(0, policy.max_delay.count());
    long long ceiling = base;
    for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling *= 2;  // no overflow: stops once over the cap
    ceiling = std::min(ceiling, cap);
    if (ceiling <= 0) return std::chrono::milliseconds{0};
    std::uniform_int_distribution<long long> pick(0, ceiling);
    return std::chrono::milliseconds{pick(rng)};
}

HttpResponse HttpClient::perform_once(const HttpRequest& request, std::chrono::milliseconds extra_timeout)
{
    HttpResponse response;
    response.attempts = 1;
    if (!handle_->easy) {
        if (CURLcode rc = global_init(); rc != CURLE_OK) {
            response.error = std::string("curl_global_init failed: ") + curl_easy_strerror(rc);
            return response;
        }
        handle_->easy.reset(curl_easy_init());
        if (!handle_->easy) {
            response.error = "curl_easy_init failed";
            return response;
        }
    }
    // Built first, so that nothing can throw once the handle points into this frame.
    SlistPtr headers;
    auto add = [&](const std::string& line) {
        curl_slist* head = curl_slist_append(headers.get(), line.c_str());
        if (!head) throw std::bad_alloc();  // the list so far is untouched and still owned
        if (!headers) headers.reset(head);  // later appends keep the same head
    };
    bool has_content_type = false;
    if (std::string why = invalid_request(request); !why.empty()) {
        response.error = std::move(why);
        return response;
    }
    for (const auto& [name, value] : request.headers) {
        if (iequals(name, "content-type")) has_content_type = true;
        // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
        add(value.empty() ? name + ";" : name + ": " + value);
    }
    const bool sends_body = method_sends_body(request.method);
    if (sends_body && !has_content_type) add("Content-Type:");  // removes curl's form content type
    add("Expect:");

    CURL* c = handle_->easy.get();
    // Reset keeps the connection cache, DNS cache and TLS sessions: only options go.
    curl_easy_reset(c);

    char errbuf[CURL_ERROR_SIZE] = {0};
    Transfer transfer;
    transfer.response = &response;
    transfer.cap = request.max_response_bytes;
    transfer.no_body = request.method == "HEAD";

    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    // The path goes out as signed: libcurl would otherwise merge "/./" and
    // "/../", and an S3 key "a/./b/../c" (keys are plain strings, dots
    // included) would fetch or overwrite the object "a/c" instead.
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sesame");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    if (options_.total_timeout.count() > 0)
        curl_easy_setopt(
            c, CURLOPT_TIMEOUT_MS,
            static_cast<long>(options_.total_timeout.count() + std::max<long long>(0, extra_timeout.count())));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, write_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
    if (request.receive_buffer) curl_easy_setopt(c, CURLOPT_BUFFERSIZE, static_cast<long>(request.receive_buffer));

    if (request.method == "GET") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (!sends_body) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    } else {
        // POSTFIELDS does not copy: REQUEST.body outlives the transfer. The
        // size is set first so that NUL bytes are sent too.
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
        if (request.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    std::string reason;
    if (rc != CURLE_OK) reason = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    // The handle must keep no pointer to this frame (error buffer, header
    // list, callbacks' data) nor to REQUEST.body; connections stay cached.
    curl_easy_reset(c);
    if (transfer.failed) throw std::bad_alloc();

    if (transfer.too_large) {
        response = HttpResponse{};
        response.attempts = 1;
        response.error = "response too large (over " + std::to_string(request.max_response_bytes) + " bytes)";
        return response;
    }
    if (rc != CURLE_OK) {
        response = HttpResponse{};
        response.attempts = 1;
        response.error = one_line(std::move(reason));
        if (response.error.empty()) response.error = "transfer failed";
        return response;
    }
    response.status = status;
    if (status == 0) response.error = "no HTTP status in the answer";
    return response;
}

HttpResponse HttpClient::perform(HttpRequest request, const RetryPolicy& policy, const RetryClassifier& retryable,
                                 const std::function<void(HttpRequest&)>& prepare,
                                 std::chrono::milliseconds extra_timeout)
{
    const int max_attempts = std::max(1, policy.max_attempts);
    HttpResponse response;
    for (int attempt = 1;; ++attempt) {
        if (prepare) {
            try {
                prepare(request);
            } catch (const std::bad_alloc&) {
                throw;
            } catch (const std::exception& e) {
                response = HttpResponse{};
                response.error = one_line(std::string("cannot prepare the request: ") + e.what());
                response.attempts = attempt;
                return response;
            } catch (...) {
                response = HttpResponse{};
                response.error = "cannot prepare the request";
                response.attempts = attempt;
                return response;
            }
        }
        if (std::string why = invalid_request(request); !why.empty()) {
            response = HttpResponse{};
            response.error = std::move(why);
            response.attempts = attempt;
            return response;  // the same request would fail the same way
        }
        response = perform_once(request, extra_timeout);
        response.attempts = attempt;
        if (attempt >= max_attempts) return response;
        bool again = false;
        try {
            again = retryable ? retryable(response) : default_retryable(response);
        } catch (const std::bad_alloc&) {
            throw;
        } catch (...) {
            again = false;
        }
        if (!again) return response;
        try {
            if (sleep_) sleep_(backoff(attempt, policy, rng_));
        } catch (const std::bad_alloc&) {
            throw;
        } catch (...) {
            return response;  // a sleep that cannot sleep: give up with what we have
        }
    }
}

}  // namespace sesame::aws
