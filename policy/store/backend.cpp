// backend.cpp - the backend registry, with sqlite built in.
#include "policy/store/backend.hpp"

#include <filesystem>
#include <map>

#include "policy/store/sqlite_store.hpp"

namespace sesame::store {

namespace {

// `sesame db init` on sqlite: the parent directory, then the schema.
std::vector<std::string> init_sqlite(const config::Config& config)
{
    const std::string& path = config.store_sqlite;
    auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
        std::filesystem::create_directories(parent, ec);
        if (ec) throw StoreError("store " + path + ": cannot create " + parent.string() + ": " + ec.message());
    }
    auto r = SqliteStore::init(path);
    const std::string to = std::to_string(r.to_version);
    if (r.from_version == 0) return {"store " + path + ": created (schema version " + to + ")"};
    if (r.from_version < r.to_version)
        return {"store " + path + ": upgraded from schema version " + std::to_string(r.from_version) + " to " + to};
    return {"store " + path + ": already at schema version " + to};
}

std::map<std::string, Backend>& registry()
{
    static std::map<std::string, Backend> backends = [] {
        std::map<std::string, Backend> m;
        m["sqlite"] = Backend{
            .open = [](const config::Config& c, bool read_only) -> std::unique_ptr<engine::Store> {
                return std::make_unique<SqliteStore>(c.store_sqlite, read_only);
            },
            .init = init_sqlite,
            // A poll is one PRAGMA on a local file: every watcher tick.
            .timing = [](const config::Config&) { return WatchTiming{}; },
        };
        return m;
    }();
    return backends;
}

}  // namespace

void register_backend(const std::string& name, Backend backend)
{
    registry()[name] = std::move(backend);
}

const Backend& backend_for(const config::Config& config)
{
    auto& r = registry();
    auto it = r.find(config.store_backend);
    if (it == r.end())
        throw StoreError("store backend \"" + config.store_backend + "\" is not available in this build");
    return it->second;
}

std::unique_ptr<engine::Store> open_store(const config::Config& config, bool read_only)
{
    return backend_for(config).open(config, read_only);
}

}  // namespace sesame::store
