// health.cpp - see health.hpp.
#include "policy/daemon/health.hpp"

#include "policy/deliver/smtp_connection.hpp"

namespace sesame::daemon {

Prober::~Prober()
{
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Prober::add(std::string name, Probe probe)
{
    std::lock_guard lock(mutex_);
    probes_.emplace_back(name, std::move(probe));
    results_.push_back({Check{std::move(name), false, "not checked yet"}});
}

void Prober::start()
{
    thread_ = std::thread([this] { run(); });
}

std::vector<Check> Prober::results() const
{
    std::lock_guard lock(mutex_);
    std::vector<Check> out;
    for (const auto& r : results_) out.insert(out.end(), r.begin(), r.end());
    return out;
}

void Prober::run()
{
    for (;;) {
        for (std::size_t i = 0; i < probes_.size(); ++i) {
            std::vector<Check> checks;
            try {
                checks = probes_[i].second();
            } catch (const std::exception& e) {
                checks = {Check{probes_[i].first, false, e.what()}};
            }
            std::lock_guard lock(mutex_);
            results_[i] = std::move(checks);
        }
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, interval_, [this] { return stop_; })) return;
    }
}

void watch_postfix(Prober& prober, metrics::Registry& registry, const deliver::Endpoint& endpoint,
                   const std::string& path)
{
    prober.add("postfix",
               [endpoint] { return std::vector<Check>{smtp_check("postfix", endpoint, std::chrono::seconds(5))}; });
    registry.gauge("sesame_postfix_up",
                   "1 when Postfix at " + endpoint.to_string() + " answered the last readiness probe.",
                   {{"path", path}}, [&prober] {
                       for (const Check& c : prober.results())
                           if (c.name == "postfix") return c.ok ? 1.0 : 0.0;
                       return 0.0;
                   });
}

Check smtp_check(const std::string& name, const deliver::Endpoint& endpoint, std::chrono::milliseconds timeout)
{
    std::string error;
    auto c = deliver::Connection::open(endpoint, timeout, error);
    if (!c) return {name, false, error};
    deliver::wire::Reply greeting;
    if (c->read_reply(greeting, timeout) != deliver::IoStatus::ok)
        return {name, false, c->peer() + ": no greeting: " + c->error()};
    (void)c->write_all("QUIT\r\n", timeout);
    if (greeting.code / 100 != 2) return {name, false, c->peer() + " greets with " + std::to_string(greeting.code)};
    return {name, true, c->peer() + " answers"};
}

}  // namespace sesame::daemon
