// http.cpp - libmicrohttpd glue and the policy's health and metrics.
#include "policy/daemon/http.hpp"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "policy/log/log.hpp"

namespace sesame::daemon {

namespace {

constexpr unsigned kConnectionLimit = 16;
constexpr unsigned kConnectionTimeoutSeconds = 5;

MHD_Result queue(MHD_Connection* connection, const HttpReply& reply)
{
    MHD_Response* response =
        MHD_create_response_from_buffer(reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
    MHD_Result r = MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
    MHD_destroy_response(response);
    return r;
}

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                      const char*, size_t*, void**) noexcept
{
    HttpReply reply;
    try {
        if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 && std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
            reply = {405, "text/plain; charset=utf-8", "only GET\n"};
        else
            reply = (*static_cast<HttpServer::Handler*>(cls))(url ? url : "");
    } catch (const std::exception& e) {
        reply = {500, "text/plain; charset=utf-8", std::string("error: ") + e.what() + "\n"};
    } catch (...) {
        reply = {500, "text/plain; charset=utf-8", "error\n"};
    }
    try {
        return queue(connection, reply);
    } catch (...) {
        return MHD_NO;
    }
}

struct AddrInfoFree {
    void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

std::string seconds_ago(std::chrono::system_clock::time_point t)
{
    auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t).count();
    return std::to_string(s) + " s ago";
}

}  // namespace

void HttpServer::Stop::operator()(MHD_Daemon* d) const
{
    MHD_stop_daemon(d);
}

HttpServer::HttpServer(const std::string& listen, Handler handler) : handler_(std::move(handler))
{
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("http: " + listen + " is not HOST:PORT");
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string port = listen.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* raw = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &raw); rc != 0)
        throw std::runtime_error("http: cannot resolve " + listen + ": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, AddrInfoFree> ai(raw);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    daemon_.reset(MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, &handler_, MHD_OPTION_SOCK_ADDR,
                                   ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit,
                                   MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds, MHD_OPTION_END));
    if (!daemon_) throw std::runtime_error("http: cannot listen on " + listen + ": " + std::strerror(errno));
}

HttpServer::~HttpServer() = default;

HttpReply serve(std::string_view path, const Endpoints& e)
{
    const char* text = "text/plain; charset=utf-8";
    if (path == "/healthz") return {200, text, "ok\n"};
    if (path == "/readyz") {
        const store::PolicySource& policy = *e.policy;
        auto snapshot = policy.current();
        const std::string error = policy.last_error();
        bool ready = snapshot != nullptr;
        std::string body = "policy: ";
        if (!snapshot) {
            body += "not loaded: " + error;
        } else {
            body += error.empty() ? "ok" : "stale";
            body += " (version " + std::to_string(snapshot->version());
            if (auto t = policy.last_success()) body += ", last refreshed " + seconds_ago(*t);
            body += ")";
            if (!error.empty())
                body += "; refreshes failing, " + std::to_string(policy.refresh_failures()) +
                        " failed since start, last: " + error;
        }
        body += "\n";
        if (e.prober)
            for (const Check& c : e.prober->results()) {
                ready = ready && c.ok;
                body += c.name + ": " + (c.ok ? "ok (" : "FAILING (") + c.detail + ")\n";
            }
        return {ready ? 200 : 503, text, body};
    }
    if (path == "/metrics")
        return {200, "text/plain; version=0.0.4; charset=utf-8", e.metrics ? e.metrics->render() : std::string()};
    return {404, text, "not found\n"};
}

void add_policy_metrics(metrics::Registry& r, const store::PolicySource& policy)
{
    const store::PolicySource* p = &policy;
    r.gauge("sesame_policy_loaded", "1 when a policy snapshot is loaded.", {},
            [p] { return p->current() ? 1.0 : 0.0; });
    r.gauge("sesame_policy_refresh_ok", "0 while policy refreshes fail (the last good snapshot stays in use).", {},
            [p] { return p->last_error().empty() ? 1.0 : 0.0; });
    r.counter_fn("sesame_policy_reloads_total", "Policy snapshots swapped in since start.", {},
                 [p] { return static_cast<double>(p->reloads()); });
    r.counter_fn("sesame_policy_refresh_failures_total", "Failed policy refreshes since start.", {},
                 [p] { return static_cast<double>(p->refresh_failures()); });
    r.gauge("sesame_policy_version", "The store's policy version in the loaded snapshot (0: none loaded).", {}, [p] {
        auto s = p->current();
        return s ? static_cast<double>(s->version()) : 0.0;
    });
    using Counts = engine::Snapshot::Counts;
    auto rules = [&r, p](const char* kind, std::size_t Counts::*field) {
        r.gauge("sesame_policy_rules", "Rules in the loaded snapshot, by kind.", {{"kind", kind}}, [p, field] {
            auto s = p->current();
            return s ? static_cast<double>(s->counts().*field) : 0.0;
        });
    };
    rules("block", &Counts::blocks);
    rules("forward", &Counts::forwards);
    rules("ooo", &Counts::ooo);
    rules("domain", &Counts::domains);
}

std::unique_ptr<HttpServer> start_http(const std::string& listen, Endpoints endpoints)
{
    try {
        auto server =
            std::make_unique<HttpServer>(listen, [endpoints](std::string_view path) { return serve(path, endpoints); });
        log::line(log::Level::info, "http: /healthz, /readyz and /metrics on " + listen);
        return server;
    } catch (const std::exception& e) {
        log::line(log::Level::warning, std::string(e.what()) + "; running without /healthz, /readyz and /metrics");
        return nullptr;
    }
}

}  // namespace sesame::daemon
