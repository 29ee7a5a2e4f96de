// runtime.hpp - what sesame-milter's callbacks share: one Runtime per process.
//
// libmilter callbacks receive no user pointer, so the Runtime is reached
// through runtime(), set once by main() before smfi_main() and never
// replaced. Everything in it is safe to use from libmilter's threads: the
// PolicySource hands out immutable snapshots without locks, the SmtpPool
// gives each caller its own connection, the Srs is immutable, and the reply
// state is written through a store handle per thread.
//
// The metrics are atomics in the Runtime's Registry, which /metrics renders;
// the Prober checks the reinjection service for /readyz.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "policy/config/config.hpp"
#include "policy/daemon/health.hpp"
#include "policy/daemon/metrics.hpp"
#include "policy/deliver/smtp_client.hpp"
#include "policy/deliver/srs.hpp"
#include "policy/engine/store.hpp"
#include "policy/store/policy_source.hpp"

namespace sesame::milter {

// The verdicts of sesame_messages_total{path="milter"}: kept for local
// delivery (perhaps forwarded too), every copy forwarded elsewhere, every
// recipient blocked at end of message, refused for too many hops, deferred
// for Sesame's own trouble.
inline const std::vector<std::string> kVerdicts = {"delivered", "forwarded", "blocked", "loop", "tempfail"};

class Runtime {
  public:
    // Builds everything the configuration names; throws std::runtime_error
    // (with one line saying what) when something is unusable.
    explicit Runtime(config::Config config);

    const config::Config& config() const { return config_; }
    store::PolicySource& policy() { return *policy_; }
    deliver::SmtpPool& reinject() { return *reinject_; }
    const deliver::Srs* srs() const { return srs_ ? &*srs_ : nullptr; }
    const std::string& hostname() const { return hostname_; }
    metrics::Registry& registry() { return registry_; }
    metrics::MailMetrics& metrics() { return metrics_; }
    metrics::Counter& srs_reversed() { return srs_reversed_; }
    // Checks the reinjection service every 10 s once started.
    daemon::Prober& prober() { return prober_; }

    // This thread's handle on the store, for the reply-interval state.
    engine::Store& reply_store();

    // SIGHUP: re-read the configuration file; applies what can change
    // without a restart and logs what cannot. Throws config::ConfigError.
    void reload();

  private:
    std::mutex config_mutex_;
    config::Config config_;
    std::unique_ptr<store::PolicySource> policy_;
    std::unique_ptr<deliver::SmtpPool> reinject_;
    std::optional<deliver::Srs> srs_;
    std::string hostname_;
    metrics::Registry registry_;
    metrics::MailMetrics metrics_;
    metrics::Counter& srs_reversed_;
    daemon::Prober prober_;  // last: its thread stops first
};

// The process's Runtime; main() installs it before smfi_main().
Runtime& runtime();
void set_runtime(Runtime* r);

}  // namespace sesame::milter
