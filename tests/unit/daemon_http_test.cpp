// daemon_http_test.cpp - /healthz, /readyz and /metrics over a real socket.
//
// An HttpServer on a loopback port picked at run time answers from a
// PolicySource over a scratch sqlite store: 503 before the first load, 200
// "ok" after, 200 "stale" with the failure count and message while a
// refresh fails (the last good snapshot in use), "ok" again once it works;
// the metrics move with it; unknown paths are 404, other methods 405.
// With a Prober, /readyz also waits for its checks: an SMTP service that
// is not there makes it 503 and says why, and one that greets makes it 200.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "policy/daemon/http.hpp"
#include "policy/store/sqlite_store.hpp"
#include "tests/unit/free_port.hpp"
#include "tests/unit/scratch_dir.hpp"

namespace sesame::daemon {
namespace {

using testenv::free_port;

struct Answer {
    int status = 0;
    std::string body;
};

// One HTTP/1.0 request; the status and body of the answer.
Answer request(int port, const std::string& method, const std::string& path)
{
    const int fd = testenv::connect_loopback(port);
    if (fd < 0) return {};
    const std::string req = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    EXPECT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    std::string raw;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    Answer ans;
    if (raw.rfind("HTTP/1.", 0) == 0 && raw.size() > 12) ans.status = std::stoi(raw.substr(9, 3));
    if (auto e = raw.find("\r\n\r\n"); e != std::string::npos) ans.body = raw.substr(e + 4);
    return ans;
}

bool has(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

class Http : public ::testing::Test {
  protected:
    void SetUp() override
    {
        path_ = dir_ + "/policy.db";
        store::SqliteStore::init(path_);
        store::SqliteStore(path_).add_block("@example.com", "*@spam.com");
        const std::string path = path_;
        source_ =
            std::make_unique<store::PolicySource>([path] { return std::make_unique<store::SqliteStore>(path, true); },
                                                  store::WatchTiming{}, engine::PolicySettings{});
        port_ = free_port();
        add_policy_metrics(registry_, *source_);
        server_ = start_http("127.0.0.1:" + std::to_string(port_), {source_.get(), &registry_, nullptr});
        ASSERT_NE(server_, nullptr);
    }
    void TearDown() override { server_.reset(); }

    testdata::ScratchDir scratch_{"sesame-http"};
    std::string dir_ = scratch_.path(), path_;
    std::unique_ptr<store::PolicySource> source_;
    metrics::Registry registry_;
    int port_ = 0;
    std::unique_ptr<HttpServer> server_;
};

TEST_F(Http, ReadinessFollowsThePolicy)
{
    EXPECT_EQ(request(port_, "GET", "/healthz").status, 200);
    Answer a = request(port_, "GET", "/readyz");
    EXPECT_EQ(a.status, 503) << "no snapshot yet: not ready";
    EXPECT_TRUE(has(a.body, "policy: not loaded")) << a.body;

    ASSERT_TRUE(source_->refresh());
    a = request(port_, "GET", "/readyz");
    EXPECT_EQ(a.status, 200);
    EXPECT_TRUE(has(a.body, "policy: ok (version ")) << a.body;
    Answer m = request(port_, "GET", "/metrics");
    EXPECT_EQ(m.status, 200);
    EXPECT_TRUE(has(m.body, "\nsesame_policy_loaded 1\n")) << m.body;
    EXPECT_TRUE(has(m.body, "\nsesame_policy_refresh_failures_total 0\n")) << m.body;
    EXPECT_TRUE(has(m.body, "sesame_policy_rules{kind=\"block\"} 1\n")) << m.body;

    // The store breaks: still ready on the last good snapshot, but says so.
    std::filesystem::remove(path_);
    EXPECT_THROW(source_->refresh(), engine::StoreError);
    a = request(port_, "GET", "/readyz");
    EXPECT_EQ(a.status, 200) << "a stale snapshot still serves mail";
    EXPECT_TRUE(has(a.body, "policy: stale") && has(a.body, "1 failed since start") && has(a.body, path_)) << a.body;
    m = request(port_, "GET", "/metrics");
    EXPECT_TRUE(has(m.body, "\nsesame_policy_refresh_ok 0\n")) << m.body;
    EXPECT_TRUE(has(m.body, "\nsesame_policy_refresh_failures_total 1\n")) << m.body;

    // Back: ok again, the failures still counted.
    store::SqliteStore::init(path_);
    EXPECT_TRUE(source_->refresh());
    a = request(port_, "GET", "/readyz");
    EXPECT_TRUE(has(a.body, "policy: ok")) << a.body;
    m = request(port_, "GET", "/metrics");
    EXPECT_TRUE(has(m.body, "\nsesame_policy_refresh_ok 1\n")) << m.body;
    EXPECT_TRUE(has(m.body, "\nsesame_policy_refresh_failures_total 1\n")) << m.body;
    EXPECT_TRUE(has(m.body, "sesame_policy_rules{kind=\"block\"} 0\n")) << "the new, empty store is loaded";
}

TEST_F(Http, UnknownPathsAndMethodsAreRefused)
{
    EXPECT_EQ(request(port_, "GET", "/").status, 404);
    EXPECT_EQ(request(port_, "GET", "/metrics/extra").status, 404);
    EXPECT_EQ(request(port_, "POST", "/metrics").status, 405);
}

TEST_F(Http, APortInUseIsAWarningNotAnExit)
{
    // The same port again: start_http says why and returns nothing.
    EXPECT_EQ(start_http("127.0.0.1:" + std::to_string(port_), {source_.get(), &registry_, nullptr}), nullptr);
    EXPECT_EQ(request(port_, "GET", "/healthz").status, 200) << "the first server still answers";
}

// A one-connection-at-a-time server on PORT that greets with GREETING and
// closes; until stop().
class Greeter {
  public:
    Greeter(int port, std::string greeting) : greeting_(std::move(greeting))
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a = testenv::loopback(port);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd_, 8), 0);
        thread_ = std::thread([this] {
            for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0;) {
                (void)::send(c, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
                char buf[64];
                (void)::recv(c, buf, sizeof buf, 0);  // QUIT
                ::close(c);
            }
        });
    }
    ~Greeter()
    {
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }

  private:
    std::string greeting_;
    int fd_ = -1;
    std::thread thread_;
};

// /readyz of a server whose prober checks an SMTP service on SMTP_PORT,
// once its answer contains WANT (probes run every 20 ms; 5 s at most).
Answer readyz_when(int http_port, const std::string& want)
{
    Answer a;
    for (int i = 0; i < 250; ++i) {
        a = request(http_port, "GET", "/readyz");
        if (has(a.body, want)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return a;
}

TEST_F(Http, ReadinessWaitsForEveryProbe)
{
    ASSERT_TRUE(source_->refresh());
    const int smtp_port = free_port();
    Prober prober(std::chrono::milliseconds(20));
    watch_postfix(prober, registry_, deliver::Endpoint::parse("smtp:127.0.0.1:" + std::to_string(smtp_port)), "milter");
    const int port = free_port();
    auto server = start_http("127.0.0.1:" + std::to_string(port), {source_.get(), &registry_, &prober});
    ASSERT_NE(server, nullptr);
    Answer a = request(port, "GET", "/readyz");
    EXPECT_EQ(a.status, 503) << "not probed yet: " << a.body;
    EXPECT_TRUE(has(a.body, "postfix: FAILING (not checked yet)")) << a.body;
    prober.start();

    a = readyz_when(port, "Connection refused");
    EXPECT_EQ(a.status, 503) << a.body;
    EXPECT_TRUE(has(a.body, "policy: ok")) << a.body;
    EXPECT_TRUE(has(a.body, "postfix: FAILING (connect to 127.0.0.1:" + std::to_string(smtp_port))) << a.body;
    EXPECT_TRUE(has(request(port, "GET", "/metrics").body, "sesame_postfix_up{path=\"milter\"} 0\n"));
    {
        Greeter busy(smtp_port, "421 4.3.2 busy\r\n");
        a = readyz_when(port, "greets with 421");
        EXPECT_EQ(a.status, 503) << a.body;
    }
    Greeter postfix(smtp_port, "220 mx.example ESMTP\r\n");
    a = readyz_when(port, "postfix: ok");
    EXPECT_EQ(a.status, 200) << a.body;
    EXPECT_TRUE(has(a.body, "postfix: ok (127.0.0.1:" + std::to_string(smtp_port) + " answers)")) << a.body;
    EXPECT_TRUE(has(request(port, "GET", "/metrics").body, "sesame_postfix_up{path=\"milter\"} 1\n"));
}

}  // namespace
}  // namespace sesame::daemon
