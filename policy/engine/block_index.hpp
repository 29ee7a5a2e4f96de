// block_index.hpp - the compiled blocklist: which patterns can match a sender.
//
// A million patterns must cost about what ten do, so nothing here scans the
// list. Each pattern is filed, under its rule key, by the most selective
// literal it requires of any address it matches: the whole address (no
// metacharacter), the domain (literal text after the last '@'), the domain
// plus up to four leading characters, the local part (literal text before
// the first '@'), a ".suffix" of the domain, or up to four leading
// characters. Only patterns with no usable literal ("*", "*spam*") are
// scanned, per key. A lookup probes one open-addressing hash table a few
// times per key, behind a Bloom filter that answers most misses from cache,
// and verifies the few candidates with glob_match (or with fnmatch(3) itself
// for patterns glob_error refuses, so that any pattern in the store behaves
// exactly as fnmatch would).
//
// Rule keys live in a flat open-addressing table too, so that the three or
// four keys of a recipient cost one cache line each, and the lookup
// literals are hashed once per find(), not once per key.
//
// Built once by BlockIndexBuilder, then immutable: any number of threads may
// call find() at once. Memory is a few dozen bytes per pattern.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sesame::engine {

struct BlockMatch {
    std::string_view key;      // the rule key the pattern is listed under
    std::string_view pattern;  // as stored (lower-cased)
};

class BlockIndex {
  public:
    // The first pattern listed under one of KEYS (most specific key first)
    // that matches SENDER ("" is the null sender; lower-cased address
    // otherwise). Within a key, exact addresses are tried first.
    std::optional<BlockMatch> find(std::string_view sender, const std::vector<std::string>& keys) const;

    std::size_t size() const { return patterns_.size(); }
    std::size_t memory_bytes() const;

  private:
    friend class BlockIndexBuilder;
    struct Pattern {
        std::uint32_t offset;  // into text_
        std::uint32_t length;
        std::uint32_t key;  // index into key_names_
        bool use_libc;      // refused by glob_error: verify with fnmatch(3)
    };
    struct Slot {
        std::uint64_t hash;        // 0: empty
        std::uint32_t begin, end;  // range in ids_
    };
    // One rule key: which filing kinds and literal lengths exist under it,
    // so that a lookup probes only for those.
    struct KeySlot {
        std::uint64_t hash;  // of the key's name; 0: empty
        std::uint32_t id;
        std::uint8_t kinds;                  // bit per filing kind
        std::uint8_t domain_prefix_lengths;  // bit L-1: a literal of length L
        std::uint8_t prefix_lengths;
    };

    const KeySlot* key_slot(std::string_view key) const;
    bool verify(std::uint32_t id, std::string_view sender) const;
    std::optional<std::uint32_t> probe(std::uint64_t hash, std::string_view sender) const;
    std::string_view text(std::uint32_t id) const;

    std::string text_;  // every pattern, each followed by a NUL
    std::vector<Pattern> patterns_;
    std::vector<std::uint32_t> ids_;
    std::vector<Slot> slots_;
    std::uint64_t mask_ = 0;
    std::vector<std::uint64_t> bloom_;  // a one-hash Bloom filter of the slots' hashes
    unsigned bloom_shift_ = 0;          // its bit: the hash's top bits
    std::vector<KeySlot> key_slots_;
    std::uint64_t key_mask_ = 0;
    bool key_collisions_ = false;  // two key names share a hash: compare names
    std::vector<std::string> key_names_;
    std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> scan_;  // key id -> unfiled patterns
};

class BlockIndexBuilder {
  public:
    // KEY is a normalised rule key; PATTERN is lower-cased.
    void add(std::string_view key, std::string_view pattern);
    std::unique_ptr<const BlockIndex> build();

  private:
    std::unique_ptr<BlockIndex> index_ = std::make_unique<BlockIndex>();
    std::vector<std::pair<std::uint64_t, std::uint32_t>> entries_;  // (hash, pattern id)
    std::unordered_map<std::string, BlockIndex::KeySlot> keys_;     // by name, while building
};

}  // namespace sesame::engine
