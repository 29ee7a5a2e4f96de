// policy_source.cpp - watching the store and swapping snapshots.
//
// The cheap path is a stat() of the file (was it replaced?) and PRAGMA
// data_version on our own connection: it moves only when another
// connection committed. Reply-state writes move it too, so the policy
// version row decides whether a rebuild is due.
#include "policy/store/policy_source.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

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
        // A file replaced under us (a restore, `mv new.db policy.db`) keeps
        // our connection on the old inode: notice it, and reopen.
        struct stat st {};
        if (::stat(path_.c_str(), &st) != 0) throw StoreError("store " + path_ + ": " + std::strerror(errno));
        if (store_ && (st.st_ino != inode_ || st.st_dev != device_)) {
            store_.reset();
            force = true;
        }
        if (!store_) {
            store_ = std::make_unique<SqliteStore>(path_, /*read_only=*/true);
            inode_ = st.st_ino;
            device_ = st.st_dev;
        }
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
