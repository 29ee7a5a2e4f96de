// http.hpp - the daemons' HTTP side door: /healthz, /readyz, /metrics.
//
// HttpServer serves GET (and HEAD) on `[http] listen` from libmicrohttpd's
// own thread, with a small connection limit and timeout: it never touches
// the mail path, and a slow scraper only waits for itself. The handler is
// called on that thread; it must be thread-safe and should not block.
// Anything it throws becomes a 500, never an exception in libmicrohttpd.
//
// policy_endpoints() answers the three paths from a PolicySource:
//   /healthz  200 "ok": the process answers.
//   /readyz   200 while a policy snapshot is loaded, 503 before; the body
//             has one line per check, and says "stale" (still 200) while
//             refreshes fail and the last good snapshot is in use: every MX
//             losing the store at once must not take them all out of service.
//   /metrics  the policy gauges and counters in Prometheus' text format.
// Other paths are 404.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

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

HttpReply policy_endpoints(std::string_view path, const store::PolicySource& policy);

// An HttpServer on LISTEN answering policy_endpoints() for POLICY, which must
// outlive it; logs where it listens. When it cannot listen (the port is
// taken), it logs a warning and returns nullptr: the daemon runs on without
// its side door rather than not at all.
std::unique_ptr<HttpServer> start_http(const std::string& listen, const store::PolicySource& policy);

}  // namespace sesame::daemon
