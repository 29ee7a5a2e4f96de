// main.cpp - sesame-ingest: configuration, signals, then the poller.
//
// The main thread waits for signals; the poller runs in a thread of its
// own, the policy watcher in another. SIGHUP reloads what can change
// without a restart (log level; the policy settings); SIGTERM/SIGINT stop
// receiving, finish the messages already received, and exit.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "aws/dynamodb/dynamo_store.hpp"
#include "aws/ingest/poller.hpp"
#include "aws/ingest/processor.hpp"
#include "policy/daemon/daemon.hpp"
#include "policy/daemon/health.hpp"
#include "policy/daemon/http.hpp"
#include "policy/daemon/privileges.hpp"
#include "policy/daemon/systemd.hpp"
#include "policy/log/log.hpp"
#include "policy/mime/message_reader.hpp"

namespace {

using namespace sesame;

// The readiness probe of every queue: GetQueueAttributes, whose
// ApproximateNumberOfMessages is also the queue's depth in /metrics.
void watch_queues(daemon::Prober& prober, ingest::Shared& shared)
{
    const auto& queues = shared.config.ingest_queues;
    auto depth = std::make_shared<std::vector<std::atomic<double>>>(queues.size());
    auto up = std::make_shared<std::vector<std::atomic<double>>>(queues.size());
    for (std::size_t i = 0; i < queues.size(); ++i) {
        const std::string name = queues[i].url.substr(queues[i].url.rfind('/') + 1);
        const metrics::Labels labels = {{"queue", name}, {"domain", queues[i].domain}};
        shared.registry.gauge("sesame_queue_depth",
                              "Messages waiting in the SQS queue (ApproximateNumberOfMessages, probed every 15 s).",
                              labels, [depth, i] { return (*depth)[i].load(); });
        shared.registry.gauge("sesame_queue_up", "1 when the queue answered the last probe.", labels,
                              [up, i] { return (*up)[i].load(); });
    }
    auto sqs = std::make_shared<aws::SqsClient>(shared.aws);
    prober.add("queues", [&queues, sqs, depth, up] {
        std::vector<daemon::Check> checks;
        for (std::size_t i = 0; i < queues.size(); ++i) {
            daemon::Check c{"queue " + queues[i].domain, false, ""};
            try {
                auto a = sqs->queue_attributes(queues[i].url, {"ApproximateNumberOfMessages"});
                const std::string n = a.count("ApproximateNumberOfMessages") ? a["ApproximateNumberOfMessages"] : "?";
                (*depth)[i] = std::strtod(n.c_str(), nullptr);
                c.ok = true;
                c.detail = n + " waiting";
            } catch (const std::exception& e) {
                c.detail = queues[i].url + ": " + e.what();
            }
            (*up)[i] = c.ok ? 1 : 0;
            checks.push_back(std::move(c));
        }
        return checks;
    });
}

// A queue whose domain the policy does not call local gets no blocklist,
// forwards or replies: say so at start, where a typo shows.
void warn_foreign_queues(const store::PolicySource& policy, const config::Config& cfg)
{
    const auto snapshot = policy.current();
    if (!snapshot) return;
    for (const auto& q : cfg.ingest_queues)
        if (!snapshot->is_local_domain(q.domain))
            log::line(log::Level::warning, "queue " + q.domain + ": " + q.domain +
                                               " is not a local domain ([policy] domains, sesame domain add): "
                                               "its mail is delivered without the blocklist, forwards or replies");
}

int run(const daemon::Args& args)
{
    if (args.help) {
        std::cout << daemon::usage("sesame-ingest") << "\n";
        return 0;
    }
    config::Config cfg = config::load_config(args.config, args.explicit_config);
    if (cfg.ingest_queues.empty() && !args.check_only)
        throw std::runtime_error(cfg.source + ": no [[ingest.queue]] configured: nothing to poll");
    const std::optional<daemon::Identity> who = daemon::identity_to_become(cfg);
    daemon::check_secrets(cfg);
    if (args.check_only) {
        std::cout << "configuration OK\n";
        return 0;
    }
    log::configure("sesame-ingest", cfg.log_target, cfg.log_level);

    // Block the signals before any thread starts (libraries start some), so
    // that only sigwait() below takes them.
    const sigset_t set = daemon::block_signals();
    mime::mime_init();  // before any thread starts (see its comment)

    store::PolicySource policy(cfg);
    // One connection kept per worker: with fewer, workers finishing together
    // close the excess, and every few messages pay a new SMTP session.
    deliver::SmtpOptions deliver_options;
    deliver_options.max_idle =
        std::max<std::size_t>(deliver_options.max_idle, static_cast<std::size_t>(cfg.ingest_concurrency));
    const auto deliver_to = deliver::Endpoint::parse(cfg.ingest_deliver_to);
    deliver::SmtpPool deliver_pool(deliver_to, deliver_options);
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

    daemon::add_policy_metrics(shared.registry, policy);
    daemon::Prober prober(std::chrono::seconds(15));
    daemon::watch_postfix(prober, shared.registry, deliver_to, "ingest");
    watch_queues(prober, shared);
    const auto http = daemon::start_http(cfg.http_ingest_listen, {&policy, &shared.registry, &prober});
    // Root is needed for nothing else (a port under 1024, the secrets read
    // above): become the daemon's user before the store is opened.
    daemon::drop_privileges(who);
    daemon::first_load(policy, cfg);
    warn_foreign_queues(policy, cfg);
    prober.start();

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
    const std::string status = "polling " + std::to_string(cfg.ingest_queues.size()) + " queue(s), " +
                               std::to_string(cfg.ingest_concurrency) + " workers, delivering to " +
                               cfg.ingest_deliver_to;
    log::line(log::Level::notice, status);
    daemon::systemd::ready(status);
    daemon::wait_for_signals(
        set, [&] { return poller.alive(); },
        [&] {
            daemon::systemd::reloading();
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
            daemon::systemd::ready(status);
        });
    daemon::systemd::stopping();
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
