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

std::uint64_t text_hash(std::string_view s)
{
    return std::hash<std::string_view>{}(s);
}

// The filing hash of (KIND, KEY, A, B), from A's and B's text_hash.
std::uint64_t hash_of(Kind kind, std::uint32_t key, std::uint64_t a, std::uint64_t b = 0)
{
    std::uint64_t x = a * 0x9e3779b97f4a7c15ULL;
    x ^= b + (std::uint64_t{kind} << 56) + std::uint64_t{key} * 0x2545f4914f6cdd1dULL;
    return mix(x);
}

constexpr std::uint8_t kScanBit = 1u << kinds;  // the key has unfiled patterns

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
    // Most probes are for literals nobody filed: the filter (small enough
    // to stay in cache) answers those without touching the slot table.
    const std::uint64_t bit = hash >> bloom_shift_;
    if (!((bloom_[bit >> 6] >> (bit & 63)) & 1)) return std::nullopt;
    for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& slot = slots_[i];
        if (slot.hash == 0) return std::nullopt;
        if (slot.hash != hash) continue;
        for (std::uint32_t k = slot.begin; k < slot.end; ++k)
            if (verify(ids_[k], sender)) return ids_[k];
        return std::nullopt;
    }
}

const BlockIndex::KeySlot* BlockIndex::key_slot(std::string_view key) const
{
    if (key_slots_.empty()) return nullptr;
    const std::uint64_t h = mix(text_hash(key));
    for (std::uint64_t i = h & key_mask_;; i = (i + 1) & key_mask_) {
        const KeySlot& k = key_slots_[i];
        if (k.hash == 0) return nullptr;
        // Names are compared only if two keys of this index share a hash
        // (about one chance in 10^7 at a million keys): no cost otherwise.
        if (k.hash == h && (!key_collisions_ || key_names_[k.id] == key)) return &k;
    }
}

std::optional<BlockMatch> BlockIndex::find(std::string_view sender, const std::vector<std::string>& keys) const
{
    const bool null_sender = sender.empty();
    const std::string_view probe_text = null_sender ? std::string_view("<>") : sender;
    const auto last_at = sender.rfind('@');
    const std::string_view dom = last_at == std::string_view::npos ? std::string_view() : sender.substr(last_at + 1);
    const std::string_view loc = sender.substr(0, std::min(sender.find('@'), sender.size()));

    // Every literal the sender offers, hashed once for all keys.
    struct Literals {
        std::uint64_t whole, domain, local;
        std::uint64_t prefix[kMaxPrefix + 1];
        std::size_t dots[16];
        std::uint64_t suffix[16];
        std::size_t suffixes = 0;
    } lit{};
    bool hashed = false;
    auto hash_literals = [&] {
        lit.whole = text_hash(probe_text);
        if (null_sender) return;
        lit.domain = text_hash(dom);
        lit.local = text_hash(loc);
        for (std::size_t len = 1; len <= kMaxPrefix && len <= sender.size(); ++len)
            lit.prefix[len] = text_hash(sender.substr(0, len));
        // The domain's ".suffixes" (any, for a sender without '@').
        for (auto dot = sender.find('.', last_at == std::string_view::npos ? 0 : last_at);
             dot != std::string_view::npos && lit.suffixes < 16; dot = sender.find('.', dot + 1)) {
            lit.dots[lit.suffixes] = dot;
            lit.suffix[lit.suffixes++] = text_hash(sender.substr(dot));
        }
    };

    for (const std::string& key : keys) {
        const KeySlot* k = key_slot(key);
        if (!k) continue;
        if (!hashed) {
            hash_literals();
            hashed = true;
        }
        std::optional<std::uint32_t> hit;
        auto try_probe = [&](Kind kind, std::uint64_t a, std::uint64_t b = 0) {
            if (!hit && (k->kinds & (1u << kind))) hit = probe(hash_of(kind, k->id, a, b), probe_text);
        };
        try_probe(exact, lit.whole);
        if (!null_sender) {
            try_probe(domain, lit.domain);
            for (std::size_t len = 1; len <= kMaxPrefix && len <= sender.size(); ++len)
                if ((k->domain_prefix_lengths >> (len - 1)) & 1) try_probe(domain_prefix, lit.domain, lit.prefix[len]);
            try_probe(local, lit.local);
            for (std::size_t i = 0; i < lit.suffixes; ++i) try_probe(dot_suffix, lit.suffix[i]);
            if (lit.suffixes == 16 && (k->kinds & (1u << dot_suffix)))  // absurdly many labels: go on unhashed
                for (auto dot = sender.find('.', lit.dots[15] + 1); dot != std::string_view::npos && !hit;
                     dot = sender.find('.', dot + 1))
                    try_probe(dot_suffix, text_hash(sender.substr(dot)));
            for (std::size_t len = 1; len <= kMaxPrefix && len <= sender.size(); ++len)
                if ((k->prefix_lengths >> (len - 1)) & 1) try_probe(prefix, lit.prefix[len]);
            if (!hit && (k->kinds & kScanBit))
                for (std::uint32_t id : scan_.at(k->id))
                    if (verify(id, sender)) {
                        hit = id;
                        break;
                    }
        }
        if (hit) return BlockMatch{key_names_[k->id], text(*hit)};
    }
    return std::nullopt;
}

std::size_t BlockIndex::memory_bytes() const
{
    std::size_t n = text_.capacity() + patterns_.capacity() * sizeof(Pattern) +
                    ids_.capacity() * sizeof(std::uint32_t) + slots_.capacity() * sizeof(Slot);
    n += key_slots_.capacity() * sizeof(KeySlot) + bloom_.capacity() * sizeof(std::uint64_t);
    for (const auto& name : key_names_) n += sizeof(std::string) + name.capacity();
    for (const auto& [id, list] : scan_) n += 48 + list.capacity() * sizeof(std::uint32_t);
    return n;
}

void BlockIndexBuilder::add(std::string_view key, std::string_view pattern)
{
    BlockIndex& ix = *index_;
    auto it = keys_.find(std::string(key));
    if (it == keys_.end()) {
        BlockIndex::KeySlot slot{mix(text_hash(key)), static_cast<std::uint32_t>(ix.key_names_.size()), 0, 0, 0};
        it = keys_.emplace(std::string(key), slot).first;
        ix.key_names_.emplace_back(key);
    }
    BlockIndex::KeySlot& info = it->second;
    const auto id = static_cast<std::uint32_t>(ix.patterns_.size());
    const auto offset = static_cast<std::uint32_t>(ix.text_.size());
    ix.text_.append(pattern);
    ix.text_.push_back('\0');
    ix.patterns_.push_back(
        {offset, static_cast<std::uint32_t>(pattern.size()), info.id, glob_error(pattern).has_value()});

    // Hashed from PATTERN, the same bytes as the copy in text_ (which moves
    // as it grows, so no view into it is kept here).
    Filing f = file_pattern(pattern);
    if (f.scan) {
        info.kinds |= kScanBit;
        ix.scan_[info.id].push_back(id);
        return;
    }
    info.kinds |= static_cast<std::uint8_t>(1u << f.kind);
    if (f.kind == domain_prefix) info.domain_prefix_lengths |= static_cast<std::uint8_t>(1u << (f.extra.size() - 1));
    if (f.kind == prefix) info.prefix_lengths |= static_cast<std::uint8_t>(1u << (f.literal.size() - 1));
    entries_.emplace_back(hash_of(f.kind, info.id, text_hash(f.literal), f.extra.empty() ? 0 : text_hash(f.extra)), id);
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
        // One bit per filed literal in 8 bits per literal: about one absent
        // literal in nine passes the filter and reads the table.
        const std::size_t bits = std::max<std::size_t>(64, std::bit_ceil(unique.size() * 8));
        ix.bloom_.assign(bits / 64, 0);
        ix.bloom_shift_ = 64 - static_cast<unsigned>(std::countr_zero(bits));
        for (const auto& s : unique) {
            std::uint64_t i = s.hash & ix.mask_;
            while (ix.slots_[i].hash != 0) i = (i + 1) & ix.mask_;
            ix.slots_[i] = s;
            const std::uint64_t bit = s.hash >> ix.bloom_shift_;
            ix.bloom_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
        }
    }
    if (!keys_.empty()) {
        std::size_t capacity = std::bit_ceil(keys_.size() * 2);
        ix.key_slots_.assign(capacity, BlockIndex::KeySlot{0, 0, 0, 0, 0});
        ix.key_mask_ = capacity - 1;
        for (const auto& [name, k] : keys_) {
            std::uint64_t i = k.hash & ix.key_mask_;
            while (ix.key_slots_[i].hash != 0) {
                if (ix.key_slots_[i].hash == k.hash) ix.key_collisions_ = true;
                i = (i + 1) & ix.key_mask_;
            }
            ix.key_slots_[i] = k;
        }
    }
    keys_ = {};
    ix.text_.shrink_to_fit();
    ix.patterns_.shrink_to_fit();
    auto done = std::move(index_);
    index_ = std::make_unique<BlockIndex>();
    return done;
}

}  // namespace sesame::engine
