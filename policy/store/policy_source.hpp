// policy_source.hpp - "give me the current snapshot", for the daemons.
//
// A PolicySource owns its own connection to the store and the current
// compiled Snapshot. current() is lock-free and may be called from any
// number of threads (libmilter's, the ingest workers'); it returns the
// snapshot that was current at that instant, which stays valid for as long
// as the caller holds it. refresh() (one thread at a time: the daemon's
// watcher, every ~250 ms) costs one PRAGMA when nothing changed; when the
// policy version moved it builds a new snapshot aside and swaps it in.
//
// A refresh that fails throws StoreError and keeps the last good snapshot;
// before the first successful load current() returns nullptr, which the
// daemons must answer with a temporary failure, never "not blocked".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "policy/engine/snapshot.hpp"
#include "policy/store/sqlite_store.hpp"

namespace sesame::store {

class PolicySource {
  public:
    PolicySource(std::string path, engine::PolicySettings settings);

    std::shared_ptr<const engine::Snapshot> current() const { return current_.load(); }

    // Rebuilds when the store changed (or FORCE). True if a new snapshot
    // was swapped in. Throws StoreError; the old snapshot stays current.
    bool refresh(bool force = false);

    // New settings (SIGHUP): the next refresh rebuilds with them.
    void set_settings(engine::PolicySettings settings);

    // How many snapshots have been swapped in since start.
    std::uint64_t reloads() const { return reloads_.load(); }

  private:
    std::string path_;
    std::mutex mutex_;  // serialises refresh() and set_settings()
    engine::PolicySettings settings_;
    bool settings_changed_ = true;
    std::unique_ptr<SqliteStore> store_;
    ino_t inode_ = 0;  // of the file store_ has open
    dev_t device_ = 0;
    std::optional<std::uint64_t> data_version_;
    std::optional<std::uint64_t> policy_version_;
    std::atomic<std::shared_ptr<const engine::Snapshot>> current_;
    std::atomic<std::uint64_t> reloads_{0};
};

}  // namespace sesame::store
