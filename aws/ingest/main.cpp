// main.cpp - sesame-ingest: configuration, signals, then the poller.
//
// The main thread waits for signals; the poller runs in a thread of its
// own, the policy watcher in another. SIGHUP reloads what can change
// without a restart (log level; the policy settings); SIGTERM/SIGINT stop
// receiving, finish the messages already received, and exit.
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <thread>

#include "aws/dynamodb/dynamo_store.hpp"
#include "aws/ingest/poller.hpp"
#include "aws/ingest/processor.hpp"
#include "policy/daemon/daemon.hpp"
#include "policy/daemon/http.hpp"
#include "policy/log/log.hpp"

namespace {

using namespace sesame;

int run(const daemon::Args& args)
{
    config::Config cfg = config::load_config(args.config, args.explicit_config);
    if (cfg.ingest_queues.empty() && !args.check_only)
        throw std::runtime_error(cfg.source + ": no [[ingest.queue]] configured: nothing to poll");
    if (args.check_only) {
        std::cout << "configuration OK\n";
        return 0;
    }
    log::configure("sesame-ingest", cfg.log_target, cfg.log_level);

    // Block the signals before any thread starts (libraries start some), so
    // that only sigwait() below takes them.
    const sigset_t set = daemon::block_signals();

    store::PolicySource policy(cfg);
    daemon::first_load(policy, cfg);
    const auto http = daemon::start_http(cfg.http_listen, policy);
    // One connection kept per worker: with fewer, workers finishing together
    // close the excess, and every few messages pay a new SMTP session.
    deliver::SmtpOptions deliver_options;
    deliver_options.max_idle =
        std::max<std::size_t>(deliver_options.max_idle, static_cast<std::size_t>(cfg.ingest_concurrency));
    deliver::SmtpPool deliver_pool(deliver::Endpoint::parse(cfg.ingest_deliver_to), deliver_options);
    std::unique_ptr<deliver::SmtpPool> outbound_pool;
    if (cfg.outbound_route != "ses")
        outbound_pool = std::make_unique<deliver::SmtpPool>(deliver::Endpoint::parse(cfg.outbound_route));
    std::optional<deliver::Srs> srs;
    if (!cfg.srs_domain.empty()) srs.emplace(deliver::Srs::from_file(cfg.srs_domain, cfg.srs_secret_file));

    ingest::Shared shared;
    shared.config = cfg;
    shared.aws.region = cfg.aws_region;
    shared.aws.endpoint = cfg.aws_endpoint;
    shared.aws.credentials = std::make_shared<aws::CredentialsProvider>();
    shared.ses_aws = shared.aws;
    if (!cfg.aws_ses_endpoint.empty()) shared.ses_aws.endpoint = cfg.aws_ses_endpoint;
    shared.policy = &policy;
    shared.deliver = &deliver_pool;
    shared.outbound = outbound_pool.get();
    shared.srs = srs ? &*srs : nullptr;
    shared.hostname = daemon::local_hostname();
    shared.now = [] { return static_cast<engine::Time>(std::time(nullptr)); };
    shared.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };

    ingest::Processor processor(shared);
    ingest::Poller poller(shared, processor);
    std::atomic<bool> stop{false};
    std::atomic<bool> stopping{false};
    std::thread watcher(daemon::watch_policy, std::ref(policy), std::ref(stop));
    std::thread polling([&] {
        try {
            poller.run();
        } catch (const std::exception& e) {
            log::line(log::Level::error, std::string("poller stopped: ") + e.what());
        }
        if (!stopping) kill(getpid(), SIGTERM);  // wake the main thread: the poller ended by itself
    });
    log::line(log::Level::notice, "polling " + std::to_string(cfg.ingest_queues.size()) + " queue(s), " +
                                      std::to_string(cfg.ingest_concurrency) + " workers, delivering to " +
                                      cfg.ingest_deliver_to);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            try {
                config::Config fresh = config::load_config(cfg.source, true);
                for (const auto& key : config::restart_needed(cfg, fresh))
                    log::line(log::Level::warning, "reload: " + key + " changed: it takes effect at the next restart");
                log::configure("sesame-ingest", cfg.log_target, fresh.log_level);
                policy.set_settings(config::policy_settings(fresh));
                policy.refresh(/*force=*/true);
                log::line(log::Level::notice, "reload: configuration " + cfg.source + " re-read");
            } catch (const std::exception& e) {
                log::line(log::Level::error,
                          std::string("reload failed, keeping the running configuration: ") + e.what());
            }
            continue;
        }
        log::line(log::Level::notice, std::string("stopping on ") + strsignal(sig));
        break;
    }
    stopping = true;
    poller.stop();
    polling.join();
    stop = true;
    watcher.join();
    log::line(log::Level::notice, "stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    try {
        dynamodb::register_backend();  // `[store] backend = "dynamodb"`
        return run(daemon::parse_args(argc, argv, "sesame-ingest"));
    } catch (const std::exception& e) {
        std::cerr << "sesame-ingest: " << e.what() << "\n";
        return 2;
    }
}
