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
// times per key and verifies the few candidates with glob_match (or with
// fnmatch(3) itself for patterns glob_error refuses, so that any pattern in
// the store behaves exactly as fnmatch would).
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
        std::uint64_t hash;  // 0: empty
        std::uint32_t begin, end;  // range in ids_
    };
    struct KeyInfo {
        std::uint32_t id = 0;
        std::uint8_t kinds = 0;        // bit per Kind present under this key
        std::uint8_t domain_prefix_lengths = 0;  // bit L-1: a literal of length L
        std::uint8_t prefix_lengths = 0;
        std::vector<std::uint32_t> scan;  // patterns with no usable literal
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    bool verify(std::uint32_t id, std::string_view sender) const;
    std::optional<std::uint32_t> probe(std::uint64_t hash, std::string_view sender) const;
    std::string_view text(std::uint32_t id) const;

    std::string text_;
    std::vector<Pattern> patterns_;
    std::vector<std::uint32_t> ids_;
    std::vector<Slot> slots_;
    std::uint64_t mask_ = 0;
    std::unordered_map<std::string, KeyInfo, Hash, std::equal_to<>> keys_;
    std::vector<std::string_view> key_names_;
};

class BlockIndexBuilder {
  public:
    // KEY is a normalised rule key; PATTERN is lower-cased.
    void add(std::string_view key, std::string_view pattern);
    std::unique_ptr<const BlockIndex> build();

  private:
    std::unique_ptr<BlockIndex> index_ = std::make_unique<BlockIndex>();
    std::vector<std::pair<std::uint64_t, std::uint32_t>> entries_;  // (hash, pattern id)
};

}  // namespace sesame::engine
