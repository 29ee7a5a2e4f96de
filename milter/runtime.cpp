// runtime.cpp - building and reloading what the callbacks share.
#include "milter/runtime.hpp"

#include <stdexcept>

#include "milter/callbacks.hpp"
#include "policy/daemon/daemon.hpp"
#include "policy/daemon/http.hpp"
#include "policy/log/log.hpp"

namespace sesame::milter {

namespace {

Runtime* g_runtime = nullptr;

}  // namespace

Runtime::Runtime(config::Config config)
    : config_(std::move(config)),
      hostname_(daemon::local_hostname()),
      metrics_(registry_, "milter", kVerdicts, [] { return static_cast<double>(messages_in_flight()); }),
      srs_reversed_(registry_.counter("sesame_srs_bounces_reversed_total",
                                      "Bounces to our SRS addresses sent back to the original sender.",
                                      {{"path", "milter"}})),
      prober_(std::chrono::seconds(10))
{
    policy_ = std::make_unique<store::PolicySource>(config_);
    daemon::add_policy_metrics(registry_, *policy_);
    const auto reinject = deliver::Endpoint::parse(config_.milter_reinject);
    reinject_ = std::make_unique<deliver::SmtpPool>(reinject);
    daemon::watch_postfix(prober_, registry_, reinject, "milter");
    if (!config_.srs_domain.empty()) srs_.emplace(deliver::Srs::from_file(config_.srs_domain, config_.srs_secret_file));
}

engine::Store& Runtime::reply_store()
{
    // One handle per libmilter thread: store handles are not shared. The
    // store's settings need a restart to change, so one open is enough.
    thread_local std::unique_ptr<engine::Store> store;
    if (!store) store = store::open_store(config_);
    return *store;
}

void Runtime::reload()
{
    config::Config fresh = config::load_config(config_.source, /*required=*/true);
    for (const auto& key : config::restart_needed(config_, fresh))
        log::line(log::Level::warning, "reload: " + key + " changed: it takes effect at the next restart");
    std::lock_guard lock(config_mutex_);
    config_.policy_domains = fresh.policy_domains;
    config_.recipient_delimiter = fresh.recipient_delimiter;
    config_.max_hops = fresh.max_hops;
    config_.marker_header = fresh.marker_header;
    config_.log_level = fresh.log_level;
    log::configure("sesame-milter", config_.log_target, config_.log_level);
    policy_->set_settings(config::policy_settings(config_));
    policy_->refresh(/*force=*/true);
    log::line(log::Level::notice, "reload: configuration " + config_.source + " re-read");
}

Runtime& runtime()
{
    return *g_runtime;
}

void set_runtime(Runtime* r)
{
    g_runtime = r;
}

}  // namespace sesame::milter
