// daemon.cpp - see daemon.hpp.
#include "policy/daemon/daemon.hpp"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "policy/config/config.hpp"
#include "policy/daemon/systemd.hpp"
#include "policy/log/log.hpp"

namespace sesame::daemon {

std::string usage(const std::string& program)
{
    return "usage: " + program + " [--config FILE] [--check-config] [--help]";
}

Args parse_args(int argc, char** argv, const std::string& program)
{
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            a.help = true;
        } else if (arg == "--check-config") {
            a.check_only = true;
        } else if (arg == "--config" && i + 1 < argc) {
            a.config = argv[++i];
            a.explicit_config = true;
        } else if (arg.rfind("--config=", 0) == 0) {
            a.config = arg.substr(9);
            a.explicit_config = true;
        } else {
            throw std::runtime_error(usage(program));
        }
    }
    if (!a.explicit_config) {
        a.config = config::default_config_path();
        const char* env = std::getenv("SESAME_CONFIG");
        a.explicit_config = env && *env;
    }
    return a;
}

void log_policy_loaded(const store::PolicySource& policy)
{
    auto s = policy.current();
    if (!s) return;
    auto n = s->counts();
    log::line(log::Level::info, "policy loaded: version " + std::to_string(s->version()) + ", " +
                                    std::to_string(n.blocks) + " block patterns, " + std::to_string(n.forwards) +
                                    " forwards, " + std::to_string(n.ooo) + " out-of-office rules, " +
                                    std::to_string(n.domains) + " domains");
}

void first_load(store::PolicySource& policy, const config::Config& config)
{
    try {
        policy.refresh();
        log_policy_loaded(policy);
    } catch (const std::exception& e) {
        if (!store::backend_for(config).start_without_policy) throw;
        log::line(log::Level::error, std::string("policy not loaded: ") + e.what() +
                                         "; every message is deferred (4xx) until it is, retried at each poll");
    }
}

void watch_policy(store::PolicySource& policy, std::atomic<bool>& stop)
{
    std::string last_error;
    while (!stop) {
        try {
            if (policy.refresh()) log_policy_loaded(policy);
            last_error.clear();
        } catch (const std::exception& e) {
            if (e.what() != last_error) log::line(log::Level::error, std::string("policy refresh failed: ") + e.what());
            last_error = e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

sigset_t block_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return set;
}

void wait_for_signals(const sigset_t& set, const std::function<bool()>& alive, const std::function<void()>& on_hup)
{
    // Wake at half the watchdog interval to ping it; without a watchdog,
    // only for the signals.
    const auto watchdog = systemd::watchdog_interval();
    const auto half = watchdog.count() > 0 ? watchdog / 2 : std::chrono::microseconds(std::chrono::hours(1));
    timespec timeout{static_cast<time_t>(half.count() / 1000000), static_cast<long>(half.count() % 1000000) * 1000};
    for (;;) {
        const int sig = sigtimedwait(&set, nullptr, &timeout);
        if (sig < 0) {  // the timeout (or EINTR): alive?
            if (watchdog.count() > 0 && alive()) systemd::watchdog_ping();
            continue;
        }
        if (sig == SIGHUP) {
            on_hup();
            continue;
        }
        log::line(log::Level::notice, std::string("stopping on ") + strsignal(sig));
        return;
    }
}

std::string local_hostname()
{
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    return buf;
}

}  // namespace sesame::daemon
