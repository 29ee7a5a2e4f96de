// block_index.cpp - filing patterns by their literals, and probing for them.
//
// Every filing kind is a necessary condition: an address a pattern matches
// always yields, among its probes, the literal the pattern was filed under.
// So the candidates are a superset of the matches and glob_match decides.
// Pure; immutable after build(); no exceptions except std::bad_alloc.
#include "policy/engine/block_index.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <bit>

#include "policy/engine/glob.hpp"

namespace sesame::engine {

namespace {

enum Kind : std::uint8_t { exact, domain, domain_prefix, local, dot_suffix, prefix, kinds };

constexpr std::size_t kMaxPrefix = 4;

std::uint64_t mix(std::uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x | 1;  // 0 marks an empty slot
}

std::uint64_t hash_of(Kind kind, std::uint32_t key, std::string_view a, std::string_view b = {})
{
    std::hash<std::string_view> h;
    std::uint64_t x = h(a) * 0x9e3779b97f4a7c15ULL;
    x ^= h(b) + (std::uint64_t{kind} << 56) + std::uint64_t{key} * 0x2545f4914f6cdd1dULL;
    return mix(x);
}

struct Filing {
    Kind kind;
    std::string_view literal;
    std::string_view extra;  // domain_prefix: the leading characters
    bool scan = false;
};

Filing file_pattern(std::string_view p)
{
    if (!glob_has_meta(p)) return {exact, p, {}};
    std::string_view pre = glob_literal_prefix(p), suf = glob_literal_suffix(p);
    if (auto at = suf.rfind('@'); at != std::string_view::npos) {
        std::string_view dom = suf.substr(at + 1);
        if (pre.empty()) return {domain, dom, {}};
        return {domain_prefix, dom, pre.substr(0, std::min(pre.size(), kMaxPrefix))};
    }
    if (auto at = pre.find('@'); at != std::string_view::npos) return {local, pre.substr(0, at), {}};
    if (auto dot = suf.find('.'); dot != std::string_view::npos) return {dot_suffix, suf.substr(dot), {}};
    if (!pre.empty()) return {prefix, pre.substr(0, std::min(pre.size(), kMaxPrefix)), {}};
    return {exact, {}, {}, true};
}

}  // namespace

std::string_view BlockIndex::text(std::uint32_t id) const
{
    const Pattern& p = patterns_[id];
    return std::string_view(text_).substr(p.offset, p.length);
}

bool BlockIndex::verify(std::uint32_t id, std::string_view sender) const
{
    if (!patterns_[id].use_libc) return glob_match(text(id), sender);
    // text_ keeps a NUL after each pattern, so data() is a C string.
    const std::string s(sender);
    return fnmatch(text_.data() + patterns_[id].offset, s.c_str(), FNM_CASEFOLD) == 0;
}

std::optional<std::uint32_t> BlockIndex::probe(std::uint64_t hash, std::string_view sender) const
{
    if (slots_.empty()) return std::nullopt;
    for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& slot = slots_[i];
        if (slot.hash == 0) return std::nullopt;
        if (slot.hash != hash) continue;
        for (std::uint32_t k = slot.begin; k < slot.end; ++k)
            if (verify(ids_[k], sender)) return ids_[k];
        return std::nullopt;
    }
}

std::optional<BlockMatch> BlockIndex::find(std::string_view sender, const std::vector<std::string>& keys) const
{
    const bool null_sender = sender.empty();
    const std::string_view probe_text = null_sender ? std::string_view("<>") : sender;
    const auto last_at = sender.rfind('@');
    const std::string_view dom = last_at == std::string_view::npos ? std::string_view() : sender.substr(last_at + 1);
    const std::string_view loc = sender.substr(0, std::min(sender.find('@'), sender.size()));

    for (const std::string& key : keys) {
        auto it = keys_.find(std::string_view(key));
        if (it == keys_.end()) continue;
        const KeyInfo& k = it->second;
        std::optional<std::uint32_t> hit;
        auto try_probe = [&](Kind kind, std::string_view a, std::string_view b = {}) {
            if (!hit && (k.kinds & (1u << kind))) hit = probe(hash_of(kind, k.id, a, b), probe_text);
        };
        try_probe(exact, probe_text);
        if (!null_sender) {
            try_probe(domain, dom);
            for (std::size_t len = 1; len <= kMaxPrefix && !hit; ++len)
                if ((k.domain_prefix_lengths >> (len - 1)) & 1 && len <= sender.size())
                    try_probe(domain_prefix, dom, sender.substr(0, len));
            try_probe(local, loc);
            if (k.kinds & (1u << dot_suffix))
                for (auto dot = sender.find('.', last_at == std::string_view::npos ? 0 : last_at);
                     dot != std::string_view::npos && !hit;
                     dot = sender.find('.', dot + 1))
                    try_probe(dot_suffix, sender.substr(dot));  // the domain's, or any: no '@'
            for (std::size_t len = 1; len <= kMaxPrefix && !hit; ++len)
                if ((k.prefix_lengths >> (len - 1)) & 1 && len <= sender.size())
                    try_probe(prefix, sender.substr(0, len));
            for (std::uint32_t id : k.scan) {
                if (hit) break;
                if (verify(id, sender)) hit = id;
            }
        }
        if (hit) return BlockMatch{key_names_[patterns_[*hit].key], text(*hit)};
    }
    return std::nullopt;
}

std::size_t BlockIndex::memory_bytes() const
{
    std::size_t n = text_.capacity() + patterns_.capacity() * sizeof(Pattern) +
                    ids_.capacity() * sizeof(std::uint32_t) + slots_.capacity() * sizeof(Slot);
    for (const auto& [name, info] : keys_)
        n += name.capacity() + sizeof(KeyInfo) + 32 + info.scan.capacity() * sizeof(std::uint32_t);
    return n;
}

void BlockIndexBuilder::add(std::string_view key, std::string_view pattern)
{
    BlockIndex& ix = *index_;
    auto it = ix.keys_.find(key);
    if (it == ix.keys_.end()) {
        it = ix.keys_.emplace(std::string(key), BlockIndex::KeyInfo{}).first;
        it->second.id = static_cast<std::uint32_t>(ix.key_names_.size());
        ix.key_names_.push_back(it->first);
    }
    BlockIndex::KeyInfo& info = it->second;
    const auto id = static_cast<std::uint32_t>(ix.patterns_.size());
    const auto offset = static_cast<std::uint32_t>(ix.text_.size());
    ix.text_.append(pattern);
    ix.text_.push_back('\0');
    ix.patterns_.push_back({offset, static_cast<std::uint32_t>(pattern.size()), info.id,
                            glob_error(pattern).has_value()});

    // Hashed from PATTERN, the same bytes as the copy in text_ (which moves
    // as it grows, so no view into it is kept here).
    Filing f = file_pattern(pattern);
    if (f.scan) {
        info.scan.push_back(id);
        return;
    }
    info.kinds |= static_cast<std::uint8_t>(1u << f.kind);
    if (f.kind == domain_prefix) info.domain_prefix_lengths |= static_cast<std::uint8_t>(1u << (f.extra.size() - 1));
    if (f.kind == prefix) info.prefix_lengths |= static_cast<std::uint8_t>(1u << (f.literal.size() - 1));
    entries_.emplace_back(hash_of(f.kind, info.id, f.literal, f.extra), id);
}

std::unique_ptr<const BlockIndex> BlockIndexBuilder::build()
{
    BlockIndex& ix = *index_;
    std::sort(entries_.begin(), entries_.end());
    ix.ids_.reserve(entries_.size());
    std::vector<BlockIndex::Slot> unique;
    for (const auto& [hash, id] : entries_) {
        if (unique.empty() || unique.back().hash != hash)
            unique.push_back({hash, static_cast<std::uint32_t>(ix.ids_.size()), 0});
        ix.ids_.push_back(id);
        unique.back().end = static_cast<std::uint32_t>(ix.ids_.size());
    }
    entries_ = {};
    if (!unique.empty()) {
        std::size_t capacity = std::bit_ceil(unique.size() * 2);
        ix.slots_.assign(capacity, BlockIndex::Slot{0, 0, 0});
        ix.mask_ = capacity - 1;
        for (const auto& s : unique) {
            std::uint64_t i = s.hash & ix.mask_;
            while (ix.slots_[i].hash != 0) i = (i + 1) & ix.mask_;
            ix.slots_[i] = s;
        }
    }
    ix.text_.shrink_to_fit();
    ix.patterns_.shrink_to_fit();
    auto done = std::move(index_);
    index_ = std::make_unique<BlockIndex>();
    return done;
}

}  // namespace sesame::engine
