// snapshot.hpp - the rules as stored, and the compiled policy built from them.
//
// A store (sqlite, DynamoDB) hands the engine a RuleSet: plain data, keys
// and patterns already normalised. Snapshot::build() compiles it, with the
// PolicySettings from the configuration, into an immutable Snapshot: local
// domains in a hash set, the blocklist in a BlockIndex, forward and
// out-of-office rules by key. Daemons hold a shared_ptr<const Snapshot>;
// a new one is built aside and swapped in when the store changes, and
// in-flight messages finish on the one they started with.
//
// A Snapshot is never modified after build(), so any number of threads may
// read it at once without locks. build() throws only std::bad_alloc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "policy/engine/block_index.hpp"
#include "policy/engine/types.hpp"

namespace sesame::engine {

struct ForwardRule {
    std::vector<std::string> targets;  // normalised addresses
    ForwardMode mode = ForwardMode::redirect;
    bool keep_copy = true;
};

struct OooRule {
    bool active = true;
    std::string subject;  // "" means "Auto: <original subject>"
    std::string text;
    std::string html;
    std::optional<Time> start;  // replies from this instant on
    std::optional<Time> until;  // and before this one
    std::int64_t interval_days = 7;
};

struct BlockRule {
    std::string key;
    std::string pattern;
};

struct RuleSet {
    std::vector<std::string> domains;
    std::vector<BlockRule> blocks;
    std::map<std::string, ForwardRule> forwards;
    std::map<std::string, OooRule> ooo;
    std::uint64_t version = 0;  // the store's policy version, for logs
};

struct PolicySettings {
    std::vector<std::string> domains;  // from [policy] domains
    std::string recipient_delimiter = "+";
    std::int64_t max_hops = 30;
    std::string marker_header = "X-Sesame-Processed";
};

class Snapshot {
  public:
    static std::shared_ptr<const Snapshot> build(const RuleSet& rules, const PolicySettings& settings);

    const PolicySettings& settings() const { return settings_; }
    std::uint64_t version() const { return version_; }
    bool is_local_domain(std::string_view domain) const;
    const BlockIndex& blocks() const { return *blocks_; }

    // The most specific of KEYS with a rule, and the rule; nullptr if none.
    const ForwardRule* forward_for(const std::vector<std::string>& keys, std::string* key) const;
    const OooRule* ooo_for(const std::vector<std::string>& keys, std::string* key) const;

    // The address keys whose forward rules list ADDRESS as a target: mail
    // to those addresses reaches ADDRESS "forwarded from" them.
    const std::vector<std::string>* forwarded_from(const std::string& address) const;

    struct Counts {
        std::size_t domains, blocks, forwards, ooo;
    };
    Counts counts() const;

  private:
    Snapshot() = default;
    PolicySettings settings_;
    std::uint64_t version_ = 0;
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_set<std::string, Hash, std::equal_to<>> domains_;
    std::unique_ptr<const BlockIndex> blocks_;
    std::unordered_map<std::string, ForwardRule> forwards_;
    std::unordered_map<std::string, OooRule> ooo_;
    std::unordered_map<std::string, std::vector<std::string>> forwarded_from_;
};

}  // namespace sesame::engine
