// aws_http_test.cpp - HttpClient against a real HTTP/1.1 server on loopback.
//
// Each test starts its own TestHttpServer (tests/unit/http_test_server.hpp)
// on 127.0.0.1, a port picked by the kernel, with the answers the test needs,
// and reads back what arrived (method, target, headers, body, on which
// connection). The sleep between attempts is replaced by a recorder, so the
// retry tests take no time and can check each delay against its backoff
// ceiling. A refused connection uses a port that is bound but not listening.
// No sleeps, no fixed ports, no timing thresholds: HttpClient::perform is
// synchronous and the server records a request before it answers.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "aws/sdk/http.hpp"
#include "tests/unit/http_test_server.hpp"

namespace sesame::aws {
namespace {

using namespace std::chrono_literals;
using testenv::ClosedPort;
using testenv::TestHttpServer;
using testenv::TestReply;

// Replaces HttpClient's sleep: records each delay asked for.
struct SleepRecorder {
    std::vector<std::chrono::milliseconds> delays;
    void install(HttpClient& client)
    {
        client.set_sleep([this](std::chrono::milliseconds d) { delays.push_back(d); });
    }
};

// The full-jitter ceiling before attempt N+1.
std::chrono::milliseconds ceiling(int attempt, const RetryPolicy& p)
{
    long long c = p.base_delay.count();
    for (int i = 1; i < attempt; ++i) c *= 2;
    return std::chrono::milliseconds{std::min<long long>(c, p.max_delay.count())};
}

HttpRequest get(const TestHttpServer& server, const std::string& path)
{
    HttpRequest r;
    r.url = server.url(path);
    return r;
}

TEST(HttpClient, ReusesOneConnectionForTwoRequests)
{
    TestHttpServer server;
    server.script(200, "first");
    server.script(200, "second");
    HttpClient client;
    HttpResponse a = client.perform(get(server, "/a"));
    HttpResponse b = client.perform(get(server, "/b"));
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "first");
    EXPECT_EQ(b.status, 200);
    EXPECT_EQ(b.body, "second");
    EXPECT_EQ(server.connections(), 1);
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].target, "/a");
    EXPECT_EQ(reqs[1].target, "/b");
    EXPECT_EQ(reqs[1].connection, 1);
}

TEST(HttpClient, RetriesA500ThenSucceeds)
{
    TestHttpServer server;
    server.script(500, "oops");
    server.script(200, "ok");
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    RetryPolicy policy;  // 4 attempts, 100 ms base
    int prepared = 0;
    HttpResponse r = client.perform(get(server, "/x"), policy, default_retryable, [&](HttpRequest& req) {
        ++prepared;
        req.headers = {{"X-Attempt", std::to_string(prepared)}};
    });
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ok");
    EXPECT_EQ(r.attempts, 2);
    EXPECT_EQ(prepared, 2);
    ASSERT_EQ(sleeps.delays.size(), 1u);
    EXPECT_GE(sleeps.delays[0], 0ms);
    EXPECT_LE(sleeps.delays[0], ceiling(1, policy));
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    // PREPARE ran before each attempt: the second carries the fresh header only.
    EXPECT_EQ(reqs[0].header("x-attempt"), "1");
    EXPECT_EQ(reqs[1].header("x-attempt"), "2");
    EXPECT_EQ(reqs[1].header_count("x-attempt"), 1u);
}

TEST(HttpClient, DoesNotRetryA403)
{
    TestHttpServer server;
    server.script(403, "<Error><Code>AccessDenied</Code></Error>");
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    HttpResponse r = client.perform(get(server, "/"));
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(r.body, "<Error><Code>AccessDenied</Code></Error>");
    EXPECT_TRUE(sleeps.delays.empty());
    EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpClient, Retries429)
{
    TestHttpServer server;
    server.script(429, "slow down");
    server.script(200, "ok");
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    HttpResponse r = client.perform(get(server, "/"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.attempts, 2);
    EXPECT_EQ(sleeps.delays.size(), 1u);
}

TEST(HttpClient, ACallerClassifierDecides)
{
    TestHttpServer server;
    server.script(400, "ThrottlingException");
    server.script(200, "ok");
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    auto throttled = [](const HttpResponse& r) {
        return default_retryable(r) || (r.status == 400 && r.body == "ThrottlingException");
    };
    HttpResponse r = client.perform(get(server, "/"), RetryPolicy{}, throttled);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.attempts, 2);
}

TEST(HttpClient, GivesUpAfterMaxAttempts)
{
    TestHttpServer server;
    for (int i = 0; i < 5; ++i) server.script(503, "busy " + std::to_string(i));
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    RetryPolicy policy;
    policy.max_attempts = 4;
    policy.base_delay = 100ms;
    policy.max_delay = 250ms;
    HttpResponse r = client.perform(get(server, "/"), policy);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body, "busy 3");  // the last attempt's answer
    EXPECT_EQ(r.attempts, 4);
    EXPECT_EQ(server.request_count(), 4u);
    ASSERT_EQ(sleeps.delays.size(), 3u);
    for (std::size_t i = 0; i < sleeps.delays.size(); ++i) {
        SCOPED_TRACE("delay before attempt " + std::to_string(i + 2));
        EXPECT_GE(sleeps.delays[i], 0ms);
        EXPECT_LE(sleeps.delays[i], ceiling(static_cast<int>(i) + 1, policy));
    }
}

TEST(HttpClient, MaxAttemptsOneMeansNoRetry)
{
    TestHttpServer server;
    server.script(500);
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    RetryPolicy policy;
    policy.max_attempts = 1;
    HttpResponse r = client.perform(get(server, "/"), policy);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_TRUE(sleeps.delays.empty());
}

TEST(HttpClient, RefusedConnectionIsStatusZeroAndRetried)
{
    ClosedPort closed;
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    RetryPolicy policy;
    policy.max_attempts = 3;
    HttpRequest req;
    req.url = closed.url("/nothing");
    HttpResponse r = client.perform(req, policy);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(sleeps.delays.size(), 2u);
    EXPECT_NE(r.error, "");
    EXPECT_NE(r.error.find(std::to_string(closed.port())), std::string::npos) << r.error;
    EXPECT_EQ(r.error.find('\n'), std::string::npos);
}

TEST(HttpClient, CapsTheResponseSize)
{
    TestHttpServer server;
    server.script(200, std::string(1 << 20, 'x'));
    server.script(200, std::string(1000, 'y'));
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    HttpRequest req = get(server, "/big");
    req.max_response_bytes = 1000;
    RetryPolicy once;
    once.max_attempts = 1;
    HttpResponse big = client.perform(req, once);
    EXPECT_EQ(big.status, 0);
    EXPECT_EQ(big.error, "response too large (over 1000 bytes)");
    EXPECT_TRUE(big.body.empty());
    // Exactly at the cap is fine, and the client still works.
    HttpResponse fits = client.perform(req, once);
    EXPECT_EQ(fits.status, 200);
    EXPECT_EQ(fits.body, std::string(1000, 'y'));
}

// A bigger receive buffer (the S3 GET's) changes how the body is read, not
// what arrives: a body several buffers long comes whole, the cap still
// holds, and the next request on the same handle uses curl's own size.
TEST(HttpClient, AReceiveBufferReadsTheWholeBody)
{
    std::string body;
    for (int i = 0; body.size() < 700 * 1024; ++i) body += "line " + std::to_string(i) + "\r\n";
    TestHttpServer server;
    server.script(200, body);
    server.script(200, body);
    server.script(200, "small");
    HttpClient client;
    RetryPolicy once;
    once.max_attempts = 1;
    HttpRequest req = get(server, "/mail");
    req.receive_buffer = 256 * 1024;
    HttpResponse whole = client.perform(req, once);
    EXPECT_EQ(whole.status, 200);
    EXPECT_TRUE(whole.body == body) << whole.body.size() << " bytes of " << body.size();
    req.max_response_bytes = body.size() - 1;
    HttpResponse capped = client.perform(req, once);
    EXPECT_EQ(capped.status, 0);
    EXPECT_EQ(capped.error, "response too large (over " + std::to_string(body.size() - 1) + " bytes)");
    HttpResponse next = client.perform(get(server, "/next"), once);
    EXPECT_EQ(next.body, "small");
    EXPECT_EQ(server.connections(), 2);  // the capped transfer's connection is not reused
}

TEST(HttpClient, SendsTheBodyByteForByte)
{
    const std::string body("a\0b\r\n\0\xff\xfe end\0", 14);
    ASSERT_EQ(body.size(), 14u);
    for (const char* method : {"POST", "PUT", "PATCH"}) {
        SCOPED_TRACE(method);
        TestHttpServer server;
        server.script(200);
        HttpClient client;
        HttpRequest req = get(server, "/upload");
        req.method = method;
        req.body = body;
        req.headers = {{"Content-Type", "application/octet-stream"}};
        HttpResponse r = client.perform(req);
        EXPECT_EQ(r.status, 200);
        auto reqs = server.requests();
        ASSERT_EQ(reqs.size(), 1u);
        EXPECT_EQ(reqs[0].method, method);
        EXPECT_EQ(reqs[0].body, body);
        EXPECT_EQ(reqs[0].header("content-length"), "14");
    }
}

TEST(HttpClient, SendsNoDefaultContentTypeAndNoExpect)
{
    TestHttpServer server;
    server.script(200);
    server.script(200);
    HttpClient client;
    HttpRequest req = get(server, "/bucket/key");
    req.method = "PUT";
    req.body = std::string(2 << 20, 'b');  // over 1 MiB: curl would add "Expect: 100-continue"
    HttpResponse r = client.perform(req);
    EXPECT_EQ(r.status, 200);
    HttpRequest post = get(server, "/");
    post.method = "POST";
    post.body = "Action=x";
    r = client.perform(post);
    EXPECT_EQ(r.status, 200);
    for (const auto& got : server.requests()) {
        SCOPED_TRACE(got.method);
        EXPECT_FALSE(got.has_header("content-type")) << got.header("content-type");
        EXPECT_FALSE(got.has_header("expect"));
    }
}

TEST(HttpClient, SendsTheCallersContentTypeOnce)
{
    TestHttpServer server;
    server.script(200);
    HttpClient client;
    HttpRequest req = get(server, "/");
    req.method = "POST";
    req.body = "Action=SendEmail";
    req.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    client.perform(req);
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header_count("content-type"), 1u);
    EXPECT_EQ(reqs[0].header("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
}

TEST(HttpClient, PostWithAnEmptyBodySendsContentLengthZero)
{
    TestHttpServer server;
    server.script(200);
    HttpClient client;
    HttpRequest req = get(server, "/latest/api/token");
    req.method = "PUT";
    client.perform(req);
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].method, "PUT");
    EXPECT_EQ(reqs[0].header("content-length"), "0");
    EXPECT_FALSE(reqs[0].has_header("content-type"));
}

TEST(HttpClient, Head)
{
    TestHttpServer server;
    TestReply reply;
    reply.headers = {{"Content-Length", "1234"}, {"ETag", "\"abc\""}};
    server.script(reply);
    server.script(200, "after");
    HttpClient client;
    HttpRequest req = get(server, "/bucket/key");
    req.method = "HEAD";
    HttpResponse r = client.perform(req);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.header("content-length"), "1234");
    EXPECT_EQ(r.header("etag"), "\"abc\"");
    // The next request on the same handle is a plain GET again, on the same connection.
    HttpResponse after = client.perform(get(server, "/after"));
    EXPECT_EQ(after.body, "after");
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].method, "HEAD");
    EXPECT_EQ(reqs[1].method, "GET");
    EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, GetAndDeleteSendNoBody)
{
    TestHttpServer server;
    server.script(200);
    server.script(204);
    HttpClient client;
    HttpRequest g = get(server, "/g");
    g.body = "ignored";
    HttpRequest d = get(server, "/d");
    d.method = "DELETE";
    d.body = "ignored";
    EXPECT_EQ(client.perform(g).status, 200);
    EXPECT_EQ(client.perform(d).status, 204);
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].method, "GET");
    EXPECT_EQ(reqs[1].method, "DELETE");
    for (const auto& r : reqs) {
        EXPECT_EQ(r.body, "");
        EXPECT_FALSE(r.has_header("content-type"));
    }
}

TEST(HttpClient, ResponseHeadersAreLowerCasedAndTheFirstWins)
{
    TestHttpServer server;
    TestReply reply;
    reply.headers = {{"X-Amz-Request-Id", "first"}, {"x-amz-request-id", "second"}, {"Content-Type", "text/xml"}};
    server.script(reply);
    HttpClient client;
    HttpResponse r = client.perform(get(server, "/"));
    EXPECT_EQ(r.header("x-amz-request-id"), "first");
    EXPECT_EQ(r.header("X-Amz-Request-Id"), "first");
    EXPECT_EQ(r.header("content-type"), "text/xml");
    EXPECT_EQ(r.header("absent"), "");
    for (const auto& [name, value] : r.headers) {
        for (char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
    }
}

TEST(HttpClient, SendsRequestHeadersAsGiven)
{
    TestHttpServer server;
    server.script(200);
    HttpClient client;
    HttpRequest req = get(server, "/");
    req.headers = {{"X-Amz-Date", "20261122T120000Z"}, {"X-Empty", ""}};
    client.perform(req);
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("x-amz-date"), "20261122T120000Z");
    EXPECT_TRUE(reqs[0].has_header("x-empty"));
    EXPECT_EQ(reqs[0].header("x-empty"), "");
    EXPECT_EQ(reqs[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(HttpClient, RefusesAHeaderWithALineBreak)
{
    TestHttpServer server;
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    HttpRequest req = get(server, "/");
    req.headers = {{"X-Evil", "a\r\nX-Injected: 1"}};
    HttpResponse r = client.perform(req);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.attempts, 1);  // not worth retrying
    EXPECT_TRUE(sleeps.delays.empty());
    EXPECT_NE(r.error.find("X-Evil"), std::string::npos) << r.error;
    EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpClient, FollowsNoRedirect)
{
    TestHttpServer server;
    server.script(302, "", {{"Location", "/elsewhere"}});
    HttpClient client;
    HttpResponse r = client.perform(get(server, "/here"));
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.header("location"), "/elsewhere");
    EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpClient, ResolvesLocalhostSubdomainsItself)
{
    // Virtual-host S3 emulators: "bucket.localhost" resolves to loopback in libcurl.
    TestHttpServer server;
    server.script(200, "virtual host");
    HttpClient client;
    HttpRequest req;
    req.url = "http://bucket.localhost:" + std::to_string(server.port()) + "/key";
    HttpResponse r = client.perform(req);
    EXPECT_EQ(r.status, 200) << r.error;
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("host"), "bucket.localhost:" + std::to_string(server.port()));
}

TEST(HttpClient, APrepareThatThrowsEndsTheRequest)
{
    TestHttpServer server;
    HttpClient client;
    HttpResponse r = client.perform(get(server, "/"), RetryPolicy{}, default_retryable,
                                    [](HttpRequest&) { throw std::runtime_error("no AWS credentials: none"); });
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(r.error, "cannot prepare the request: no AWS credentials: none");
    EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpClient, PerformOnceDoesNotRetry)
{
    TestHttpServer server;
    server.script(500);
    HttpClient client;
    HttpResponse r = client.perform_once(get(server, "/"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpClient, AMalformedUrlIsStatusZero)
{
    HttpClient client;
    SleepRecorder sleeps;
    sleeps.install(client);
    HttpRequest req;
    req.url = "gopher://127.0.0.1/";
    RetryPolicy once;
    once.max_attempts = 1;
    HttpResponse r = client.perform(req, once);
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error, "");
}

TEST(HttpBackoff, StaysWithinTheFullJitterCeiling)
{
    struct Case {
        int attempt;
        long long base, max, want_ceiling;
    };
    const Case cases[] = {
        {1, 100, 5000, 100},       {2, 100, 5000, 200},  {3, 100, 5000, 400},
        {6, 100, 5000, 3200},      {7, 100, 5000, 5000}, {60, 100, 5000, 5000},
        {100000, 100, 5000, 5000}, {1, 0, 5000, 0},      {3, 100, 0, 0},
    };
    std::mt19937_64 rng(42);
    for (const Case& c : cases) {
        RetryPolicy p;
        p.base_delay = std::chrono::milliseconds{c.base};
        p.max_delay = std::chrono::milliseconds{c.max};
        long long seen_max = 0;
        for (int i = 0; i < 500; ++i) {
            long long got = HttpClient::backoff(c.attempt, p, rng).count();
            ASSERT_GE(got, 0) << "attempt " << c.attempt;
            ASSERT_LE(got, c.want_ceiling) << "attempt " << c.attempt << " base " << c.base << " max " << c.max;
            seen_max = std::max(seen_max, got);
        }
        // Full jitter: the draws spread over the range (not stuck at 0 or the ceiling).
        if (c.want_ceiling >= 100) {
            EXPECT_GT(seen_max, c.want_ceiling / 2) << "attempt " << c.attempt;
        }
    }
}

TEST(HttpRetryable, DefaultClassifier)
{
    struct Case {
        long status;
        bool want;
    };
    const Case cases[] = {{0, true},    {200, false}, {204, false}, {301, false}, {400, false}, {403, false},
                          {404, false}, {429, true},  {500, true},  {502, true},  {503, true},  {504, true}};
    for (const Case& c : cases) {
        HttpResponse r;
        r.status = c.status;
        EXPECT_EQ(default_retryable(r), c.want) << "status " << c.status;
    }
}

}  // namespace
}  // namespace sesame::aws
