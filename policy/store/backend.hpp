// backend.hpp - opening the store the configuration names.
//
// `[store] backend` picks a backend by name. "sqlite" is built in; others
// (DynamoDB, in aws/dynamodb) are linked into the programs and registered
// by their main() before anything opens a store, the way Postfix's
// dict_open_register() adds map types: the policy libraries never depend
// on the AWS layer. A Backend says how to open a handle, how `sesame db
// init` creates or upgrades the store, and how often the daemons should
// poll it for changes.
//
// The registry is process-wide: register before starting threads; lookups
// afterwards are read-only and safe from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy/config/config.hpp"
#include "policy/engine/store.hpp"

namespace sesame::store {

// How a daemon's PolicySource watches a backend.
struct WatchTiming {
    // Between two policy_version() polls; zero: at every refresh() (the
    // daemons' watcher calls it every 250 ms).
    std::chrono::milliseconds poll{0};
    // Between two full reloads made even though the version did not move
    // (writes by tools that do not bump it); zero: never.
    std::chrono::milliseconds full_refresh{0};
};

struct Backend {
    // A new handle on the store CONFIG names; READ_ONLY where the backend
    // can enforce it. Throws StoreError.
    std::function<std::unique_ptr<engine::Store>(const config::Config&, bool read_only)> open;
    // `sesame db init`: creates or upgrades the store; returns the lines to
    // print (one per thing done). Idempotent. Throws StoreError.
    std::function<std::vector<std::string>(const config::Config&)> init;
    std::function<WatchTiming(const config::Config&)> timing;
    // When the first load fails at start, the daemons run on without a
    // policy (every message deferred with a 4xx) and retry at each poll:
    // for a network store that comes back by itself. False (sqlite): a
    // missing or broken file is a set-up error, and the start fails.
    bool start_without_policy = false;
};

// Adds (or replaces) the backend NAME.
void register_backend(const std::string& name, Backend backend);

// The backend CONFIG.store_backend names; throws StoreError when this
// program was built without it.
const Backend& backend_for(const config::Config& config);

// backend_for(CONFIG).open(CONFIG, READ_ONLY).
std::unique_ptr<engine::Store> open_store(const config::Config& config, bool read_only = false);

// The reply history of a store opened only when the engine first asks (a
// message without an out-of-office rule never opens it). OPEN returns the
// caller's handle, opening it if need be; if it throws, the engine skips
// the reply and says why.
class LazyReplyHistory : public engine::ReplyHistory {
  public:
    explicit LazyReplyHistory(std::function<engine::Store&()> open) : open_(std::move(open)) {}
    std::optional<engine::Time> last_reply(std::string_view mailbox, std::string_view sender) const override
    {
        return open_().last_reply(mailbox, sender);
    }

  private:
    std::function<engine::Store&()> open_;
};

}  // namespace sesame::store
