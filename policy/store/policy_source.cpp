// policy_source.cpp - watching the store and swapping snapshots.
//
// The cheap path costs nothing until the poll interval has passed, then the
// backend's pre-check (sqlite: PRAGMA data_version, which moves only when
// another connection committed; reply-state writes move it too) and the
// policy version, which decides whether a rebuild is due.
#include "policy/store/policy_source.hpp"

#include <malloc.h>

namespace sesame::store {

PolicySource::PolicySource(Opener open, WatchTiming timing, engine::PolicySettings settings)
    : open_(std::move(open)), timing_(timing), settings_(std::move(settings))
{
}

PolicySource::PolicySource(const config::Config& config)
    : PolicySource([config] { return open_store(config, /*read_only=*/true); }, backend_for(config).timing(config),
                   config::policy_settings(config))
{
}

void PolicySource::set_settings(engine::PolicySettings settings)
{
    std::lock_guard lock(mutex_);
    settings_ = std::move(settings);
    settings_changed_ = true;
}

std::string PolicySource::last_error() const
{
    std::lock_guard lock(health_mutex_);
    return last_error_;
}

std::optional<std::chrono::system_clock::time_point> PolicySource::last_success() const
{
    std::lock_guard lock(health_mutex_);
    return last_success_;
}

bool PolicySource::refresh(bool force)
{
    std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();
    const bool loaded = current_.load() != nullptr;
    if (!force && !settings_changed_ && loaded && now < next_poll_) return false;
    next_poll_ = now + timing_.poll;
    if (timing_.full_refresh.count() > 0 && now >= next_full_) force = true;
    try {
        // A handle that no longer sees the store (a sqlite file replaced
        // under it): drop it, open anew, and reload.
        if (store_ && store_->stale()) {
            store_.reset();
            force = true;
        }
        // A new handle (the first, or after a failure) may see another store
        // than the last one did, with the same version number: reload.
        if (!store_) {
            store_ = open_();
            force = true;
        }
        bool rebuild = force || settings_changed_ || !loaded;
        if (store_->may_have_changed() || rebuild) {
            const std::uint64_t pv = store_->policy_version();
            rebuild = rebuild || policy_version_ != pv;
        }
        if (rebuild) {
            {
                engine::RuleSet rules = store_->load_rules();
                current_.store(engine::Snapshot::build(rules, settings_));
                policy_version_ = rules.version;
            }
            // The rules as loaded are gone: give glibc's freed heap back to
            // the system, or a daemon keeps the peak of every reload (at a
            // million patterns about 250 MB, for a 75 MB snapshot).
            malloc_trim(0);
            settings_changed_ = false;
            next_full_ = now + timing_.full_refresh;
            reloads_.fetch_add(1);
        }
        std::lock_guard health(health_mutex_);
        last_error_.clear();
        last_success_ = std::chrono::system_clock::now();
        return rebuild;
    } catch (...) {
        store_.reset();  // reopen next time: the file may have been replaced
        failures_.fetch_add(1);
        std::string why = "unknown error";
        try {
            throw;
        } catch (const std::exception& e) {
            why = e.what();
        } catch (...) {
        }
        std::lock_guard health(health_mutex_);
        last_error_ = why;
        throw;
    }
}

}  // namespace sesame::store
