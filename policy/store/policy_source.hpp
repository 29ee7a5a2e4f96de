// policy_source.hpp - "give me the current snapshot", for the daemons.
//
// A PolicySource owns its own handle on the store (any backend) and the
// current compiled Snapshot. current() is lock-free and may be called from
// any number of threads (libmilter's, the ingest workers'); it returns the
// snapshot that was current at that instant, which stays valid for as long
// as the caller holds it. refresh() (one thread at a time: the daemon's
// watcher, every 250 ms) polls the store's version at most once per
// WatchTiming::poll (sqlite: every call, one PRAGMA; DynamoDB: one GetItem
// every few seconds); when the version moved, or WatchTiming::full_refresh
// elapsed since the last load, it builds a new snapshot aside and swaps it
// in.
//
// A refresh that fails throws StoreError and keeps the last good snapshot;
// the failure is counted and its message kept for /readyz and the logs,
// until a refresh succeeds. Before the first successful load current()
// returns nullptr, which the daemons must answer with a temporary failure,
// never "not blocked".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "policy/config/config.hpp"
#include "policy/engine/snapshot.hpp"
#include "policy/engine/store.hpp"
#include "policy/store/backend.hpp"

namespace sesame::store {

class PolicySource {
  public:
    using Opener = std::function<std::unique_ptr<engine::Store>()>;
    PolicySource(Opener open, WatchTiming timing, engine::PolicySettings settings);
    // The store CONFIG names, with its backend's timing and CONFIG's
    // policy settings.
    explicit PolicySource(const config::Config& config);

    std::shared_ptr<const engine::Snapshot> current() const { return current_.load(); }

    // Rebuilds when the store changed (or FORCE). True if a new snapshot
    // was swapped in. Throws StoreError; the old snapshot stays current.
    bool refresh(bool force = false);

    // New settings (SIGHUP): the next refresh rebuilds with them.
    void set_settings(engine::PolicySettings settings);

    // How many snapshots have been swapped in since start.
    std::uint64_t reloads() const { return reloads_.load(); }

    // Health, from any thread: failed refreshes since start, the last
    // failure's message ("" once a refresh succeeded after it), and when a
    // snapshot was last loaded or confirmed current.
    std::uint64_t refresh_failures() const { return failures_.load(); }
    std::string last_error() const;
    std::optional<std::chrono::system_clock::time_point> last_success() const;

  private:
    using Clock = std::chrono::steady_clock;

    Opener open_;
    WatchTiming timing_;
    std::mutex mutex_;  // serialises refresh() and set_settings()
    engine::PolicySettings settings_;
    bool settings_changed_ = true;
    std::unique_ptr<engine::Store> store_;
    std::optional<std::uint64_t> policy_version_;
    Clock::time_point next_poll_{};
    Clock::time_point next_full_{};
    std::atomic<std::shared_ptr<const engine::Snapshot>> current_;
    std::atomic<std::uint64_t> reloads_{0};
    std::atomic<std::uint64_t> failures_{0};
    mutable std::mutex health_mutex_;  // guards the two below
    std::string last_error_;
    std::optional<std::chrono::system_clock::time_point> last_success_;
};

}  // namespace sesame::store
