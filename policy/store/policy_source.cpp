// policy_source.cpp - watching the store and swapping snapshots.
//
// The cheap path is PRAGMA data_version on our own connection: it moves
// only when another connection committed. Reply-state writes move it too,
// so the policy version row decides whether a rebuild is due.
#include "policy/store/policy_source.hpp"

namespace sesame::store {

PolicySource::PolicySource(std::string path, engine::PolicySettings settings)
    : path_(std::move(path)), settings_(std::move(settings))
{
}

void PolicySource::set_settings(engine::PolicySettings settings)
{
    std::lock_guard lock(mutex_);
    settings_ = std::move(settings);
    settings_changed_ = true;
}

bool PolicySource::refresh(bool force)
{
    std::lock_guard lock(mutex_);
    try {
        if (!store_) store_ = std::make_unique<SqliteStore>(path_, /*read_only=*/true);
        const std::uint64_t dv = store_->data_version();
        if (!force && !settings_changed_ && data_version_ == dv && current_.load()) return false;
        data_version_ = dv;
        const std::uint64_t pv = store_->policy_version();
        if (!force && !settings_changed_ && policy_version_ == pv && current_.load()) return false;
        engine::RuleSet rules = store_->load_rules();
        current_.store(engine::Snapshot::build(rules, settings_));
        policy_version_ = rules.version;
        settings_changed_ = false;
        reloads_.fetch_add(1);
        return true;
    } catch (...) {
        store_.reset();  // reopen next time: the file may have been replaced
        data_version_.reset();
        throw;
    }
}

}  // namespace sesame::store
