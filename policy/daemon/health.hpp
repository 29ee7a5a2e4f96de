// health.hpp - readiness checks, run away from the mail path.
//
// A Prober runs its probes on a thread of its own, one round at start and
// then every INTERVAL, and keeps the last result of each: /readyz and the
// metrics read those results and never wait for a network answer. A probe
// returns one Check per thing it looked at (the ingest daemon's queue probe
// returns one per queue); one that throws becomes a failed Check.
//
// smtp_check() is the probe for Postfix: connect, read the greeting,
// QUIT. A 4xx/5xx greeting, a timeout or a refused connection is a failure
// that says which.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy/daemon/metrics.hpp"
#include "policy/deliver/smtp_client.hpp"

namespace sesame::daemon {

struct Check {
    std::string name;  // "postfix", "queue example.com"
    bool ok = false;
    std::string detail;  // "127.0.0.1:2525 answered", "connect to ...: Connection refused"
};

class Prober {
  public:
    using Probe = std::function<std::vector<Check>()>;
    explicit Prober(std::chrono::milliseconds interval) : interval_(interval) {}
    ~Prober();
    Prober(const Prober&) = delete;
    Prober& operator=(const Prober&) = delete;

    // NAME labels the probe's results until its first round ends.
    void add(std::string name, Probe probe);
    // Starts the thread (after every add()).
    void start();
    // The last results, in the order the probes were added; a probe that
    // has not finished a round yet shows as one failed Check "not checked yet".
    std::vector<Check> results() const;

  private:
    void run();
    std::chrono::milliseconds interval_;
    std::vector<std::pair<std::string, Probe>> probes_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::vector<std::vector<Check>> results_;
    std::thread thread_;
};

// Adds to PROBER a "postfix" probe of ENDPOINT (smtp_check, 5 s timeout) and
// declares sesame_postfix_up{path=PATH} in REGISTRY from its last result.
void watch_postfix(Prober& prober, metrics::Registry& registry, const deliver::Endpoint& endpoint,
                   const std::string& path);

Check smtp_check(const std::string& name, const deliver::Endpoint& endpoint, std::chrono::milliseconds timeout);

}  // namespace sesame::daemon
