// daemon.hpp - what sesame-milter and sesame-ingest share as processes:
// their command line, signals, the policy watcher thread, the host name.
//
// parse_args() reads "[--config FILE] [--check-config] [--help]" (and
// --config=FILE) and throws std::runtime_error with the usage line otherwise.
// watch_policy() is the body of the watcher thread: it refreshes the
// snapshot every 250 ms until STOP, so `sesame` edits take effect within a
// second; a failing refresh keeps the last good snapshot and is logged
// once per distinct error. Nothing here keeps global state.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <string>

#include "policy/store/policy_source.hpp"

namespace sesame::daemon {

struct Args {
    std::string config;
    bool explicit_config = false;  // named by --config or $SESAME_CONFIG: must exist
    bool check_only = false;
    bool help = false;  // --help: print usage() on stdout, exit 0
};

std::string usage(const std::string& program);

Args parse_args(int argc, char** argv, const std::string& program);

// Blocks SIGHUP, SIGTERM and SIGINT in the calling thread (and so in every
// thread started after it: call it before any) and ignores SIGPIPE; returns
// the set for the main thread's sigwait().
sigset_t block_signals();

void watch_policy(store::PolicySource& policy, std::atomic<bool>& stop);

// Logs what a snapshot holds ("policy loaded: version 3, ...").
void log_policy_loaded(const store::PolicySource& policy);

// The first load at start, logged. A failure throws, unless CONFIG's backend
// lets the daemon start without a policy (Backend::start_without_policy):
// then it is logged and the watcher retries; messages are deferred meanwhile.
void first_load(store::PolicySource& policy, const config::Config& config);

// The main thread's loop: takes the signals of SET until SIGTERM or SIGINT
// (logged, then it returns), calling ON_HUP for each SIGHUP. Under a
// systemd watchdog it pings every half interval while ALIVE() says the
// mail path still turns; when it stops saying so, systemd restarts us.
void wait_for_signals(const sigset_t& set, const std::function<bool()>& alive, const std::function<void()>& on_hup);

// gethostname(), or "localhost".
std::string local_hostname();

}  // namespace sesame::daemon
