// snapshot.cpp - compiling a RuleSet into an immutable Snapshot.
//
// Domains from the configuration and the store are merged; rule keys and
// patterns arrive normalised from the store and are only lower-cased here
// again as a guard, so that a row written by another tool in upper case
// still matches. Pure; throws only std::bad_alloc.
#include "policy/engine/snapshot.hpp"

#include "policy/engine/address.hpp"

namespace sesame::engine {

namespace {

template <typename Rule>
const Rule* most_specific(const std::unordered_map<std::string, Rule>& rules, const std::vector<std::string>& keys,
                          std::string* key)
{
    for (const auto& k : keys) {
        auto it = rules.find(k);
        if (it == rules.end()) continue;
        if (key) *key = k;
        return &it->second;
    }
    return nullptr;
}

}  // namespace

std::shared_ptr<const Snapshot> Snapshot::build(const RuleSet& rules, const PolicySettings& settings)
{
    std::shared_ptr<Snapshot> s(new Snapshot());
    s->settings_ = settings;
    s->version_ = rules.version;
    for (const auto* list : {&settings.domains, &rules.domains})
        for (const auto& d : *list) s->domains_.insert(normalize_domain(d).value_or(ascii_lower(d)));
    BlockIndexBuilder builder;
    for (const auto& b : rules.blocks) builder.add(ascii_lower(b.key), ascii_lower(b.pattern));
    s->blocks_ = builder.build();
    for (const auto& [key, rule] : rules.forwards) {
        const std::string k = ascii_lower(key);
        if (k != "*" && k.front() != '@')
            for (const auto& target : rule.targets) s->forwarded_from_[ascii_lower(target)].push_back(k);
        s->forwards_.emplace(k, rule);
    }
    for (const auto& [key, rule] : rules.ooo) s->ooo_.emplace(ascii_lower(key), rule);
    return s;
}

bool Snapshot::is_local_domain(std::string_view domain) const
{
    return domains_.find(domain) != domains_.end();
}

const ForwardRule* Snapshot::forward_for(const std::vector<std::string>& keys, std::string* key) const
{
    return most_specific(forwards_, keys, key);
}

const OooRule* Snapshot::ooo_for(const std::vector<std::string>& keys, std::string* key) const
{
    return most_specific(ooo_, keys, key);
}

const std::vector<std::string>* Snapshot::forwarded_from(const std::string& address) const
{
    auto it = forwarded_from_.find(address);
    return it == forwarded_from_.end() ? nullptr : &it->second;
}

Snapshot::Counts Snapshot::counts() const
{
    return {domains_.size(), blocks_->size(), forwards_.size(), ooo_.size()};
}

}  // namespace sesame::engine
