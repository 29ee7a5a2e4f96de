// http.hpp - the daemons' HTTP side door: /healthz, /readyz, /metrics.
//
// HttpServer serves GET (and HEAD) on `[http] listen` from libmicrohttpd's
// own thread, with a small connection limit and timeout: it never touches
// the mail path, and a slow scraper only waits for itself. The handler is
// called on that thread; it must be thread-safe and should not block.
// Anything it throws becomes a 500, never an exception in libmicrohttpd.
//
// serve() answers the three paths for a daemon:
//   /healthz  200 "ok": the process answers.
//   /readyz   200 while a policy snapshot is loaded and every probe of the
//             daemon's Prober (Postfix; for ingest, each queue) passed its
//             last round, 503 otherwise; the body has one line per check.
//             A policy whose refreshes fail says "stale" but stays ready:
//             every MX losing the store at once must not take them all out
//             of service.
//   /metrics  the daemon's Registry in Prometheus' text format; the policy
//             gauges and counters are declared in it by add_policy_metrics().
// Other paths are 404.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "policy/daemon/health.hpp"
#include "policy/daemon/metrics.hpp"
#include "policy/store/policy_source.hpp"

struct MHD_Daemon;

namespace sesame::daemon {

struct HttpReply {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

class HttpServer {
  public:
    using Handler = std::function<HttpReply(std::string_view path)>;
    // Listens on LISTEN ("HOST:PORT", "[v6]:PORT"); throws std::runtime_error
    // saying why when it cannot.
    HttpServer(const std::string& listen, Handler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

  private:
    struct Stop {
        void operator()(MHD_Daemon* d) const;
    };
    Handler handler_;
    std::unique_ptr<MHD_Daemon, Stop> daemon_;
};

// What a daemon's side door reads; each must outlive the server. METRICS
// and PROBER may be null.
struct Endpoints {
    const store::PolicySource* policy = nullptr;
    const metrics::Registry* metrics = nullptr;
    const Prober* prober = nullptr;
};

HttpReply serve(std::string_view path, const Endpoints& endpoints);

// Declares the sesame_policy_* series, read from POLICY at scrape time.
void add_policy_metrics(metrics::Registry& registry, const store::PolicySource& policy);

// An HttpServer on LISTEN answering serve(); logs where it listens. When it
// cannot listen (the port is taken), it logs a warning and returns nullptr:
// the daemon runs on without its side door rather than not at all.
std::unique_ptr<HttpServer> start_http(const std::string& listen, Endpoints endpoints);

}  // namespace sesame::daemon
