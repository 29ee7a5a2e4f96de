// patterns.hpp - realistic blocklists for the benchmarks, from a fixed seed.
//
// make_corpus(n, seed) writes n distinct (key, pattern) rows the way a
// postmaster's list grows: 40 % exact addresses, 30 % "*@domain", 15 %
// "*@*.domain", 15 % "prefix*@domain", with random-looking local parts and
// domains (pronounceable words, a few freemail providers, common role names
// such as "promo" or "noreply"). Half the rows sit under the global key "*",
// 35 % under "@example.com" and 15 % under individual example.com mailboxes,
// one of which is the corpus's recipient. matching_sender() makes an
// address a given pattern blocks; clean_candidate() makes one that is
// probably not blocked (callers check with the engine, as the generator
// does not). The generator is its own PRNG (splitmix64) with no std::
// distributions, so the same seed gives the same rows with any library.
// Header-only; not thread-safe (an Rng is one caller's state).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "policy/engine/snapshot.hpp"

namespace sesame::bench {

class Rng {
  public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next()
    {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    bool percent(unsigned p) { return below(100) < p; }
    template <typename T, std::size_t N>
    const T& pick(const std::array<T, N>& a)
    {
        return a[below(N)];
    }

  private:
    std::uint64_t state_;
};

inline constexpr std::array<std::string_view, 10> kFreemail = {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
                                                               "mail.ru",   "qq.com",    "gmx.de",      "aol.com",
                                                               "yandex.ru", "icloud.com"};
inline constexpr std::array<std::string_view, 20> kRoles = {
    "info",      "sales",   "news",   "newsletter", "promo",  "offers",  "deals", "support", "billing", "market",
    "marketing", "noreply", "mailer", "bounce",     "notify", "updates", "admin", "contact", "hello",   "team"};
inline constexpr std::array<std::string_view, 14> kTlds = {"com",  "com", "com", "com", "com", "net", "org",
                                                           "info", "biz", "ru",  "cn",  "de",  "xyz", "co.uk"};
inline constexpr std::array<std::string_view, 6> kSubdomains = {"mail", "mx1", "smtp", "news", "em", "bounce"};

// A pronounceable word of SYLLABLES consonant-vowel pairs, sometimes closed.
inline std::string word(Rng& r, std::size_t min_syllables, std::size_t max_syllables)
{
    static constexpr std::string_view consonants = "bcdfghjklmnprstvz", vowels = "aeiou";
    std::string w;
    const std::size_t n = min_syllables + r.below(max_syllables - min_syllables + 1);
    for (std::size_t i = 0; i < n; ++i) {
        w += consonants[r.below(consonants.size())];
        w += vowels[r.below(vowels.size())];
    }
    if (r.percent(30)) w += consonants[r.below(consonants.size())];
    return w;
}

inline std::string local_part(Rng& r)
{
    const auto style = r.below(100);
    if (style < 35) return word(r, 2, 3) + "." + word(r, 2, 3);
    if (style < 55) return word(r, 2, 3) + word(r, 1, 1).substr(0, 1) + std::to_string(r.below(100));
    if (style < 75) return word(r, 2, 4) + std::to_string(r.below(10000));
    if (style < 90) return std::string(r.pick(kRoles)) + (r.percent(50) ? std::to_string(r.below(100)) : "");
    return word(r, 3, 4);
}

inline std::string random_domain(Rng& r)
{
    std::string d = word(r, 2, 4);
    if (r.percent(30)) d += "-" + word(r, 2, 3);
    return d + "." + std::string(r.pick(kTlds));
}

enum class PatternKind { exact, domain, subdomain, prefix };

struct Corpus {
    engine::RuleSet rules;                    // the blocklist, keys and patterns normalised
    std::string recipient;                    // the mailbox evaluated; has rules of its own
    std::vector<std::string> listed_domains;  // domains of exact and prefix rows, for near misses
};

// N distinct rows, shuffled, from SEED.
inline Corpus make_corpus(std::size_t n, std::uint64_t seed)
{
    Rng r(seed);
    Corpus c;
    c.recipient = "alex.morgan@example.com";
    c.rules.domains = {"example.com"};

    // Exact counts per kind and per key class, then shuffled, so that even
    // ten rows follow the mix as closely as integers allow.
    // The last value takes what the others leave.
    auto shuffled = [&](std::vector<std::pair<int, std::size_t>> counts) {
        std::vector<int> v;
        v.reserve(n);
        for (auto [value, count] : counts) v.insert(v.end(), std::min(count, n - v.size()), value);
        for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[r.below(i)]);
        return v;
    };
    const auto kinds = shuffled({{int(PatternKind::exact), n * 40 / 100},
                                 {int(PatternKind::domain), n * 30 / 100},
                                 {int(PatternKind::subdomain), n * 15 / 100},
                                 {int(PatternKind::prefix), n}});
    const auto key_classes = shuffled({{0, n * 50 / 100}, {1, n * 35 / 100}, {2, n}});

    // Individual mailboxes with rules of their own: about 30 rows each.
    std::vector<std::string> users{c.recipient};
    const std::size_t user_count = std::max<std::size_t>(1, std::min<std::size_t>(n / 200, 5000));
    while (users.size() < user_count) users.push_back(word(r, 2, 3) + "." + word(r, 2, 3) + "@example.com");

    std::unordered_set<std::string> seen;
    seen.reserve(n);
    c.rules.blocks.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::string key = key_classes[i] == 0   ? "*"
                          : key_classes[i] == 1 ? "@example.com"
                                                : users[r.below(users.size())];
        for (;;) {
            std::string pattern, domain;
            switch (PatternKind(kinds[i])) {
                case PatternKind::exact:
                    domain = r.percent(30) ? std::string(r.pick(kFreemail)) : random_domain(r);
                    pattern = local_part(r) + "@" + domain;
                    break;
                case PatternKind::domain:
                    pattern = "*@" + random_domain(r);
                    break;
                case PatternKind::subdomain:
                    pattern = "*@*." + random_domain(r);
                    break;
                case PatternKind::prefix:
                    domain = r.percent(20) ? std::string(r.pick(kFreemail)) : random_domain(r);
                    pattern = (r.percent(50) ? std::string(r.pick(kRoles)) : word(r, 2, 3)) + "*@" + domain;
                    break;
            }
            if (!seen.insert(key + '\n' + pattern).second) continue;  // drawn twice: draw again
            if (!domain.empty() && c.listed_domains.size() < 4096) c.listed_domains.push_back(domain);
            c.rules.blocks.push_back({std::move(key), std::move(pattern)});
            break;
        }
    }
    return c;
}

// An address PATTERN (one of make_corpus's four shapes) blocks.
inline std::string matching_sender(std::string_view pattern, Rng& r)
{
    if (pattern.find('*') == std::string_view::npos) return std::string(pattern);
    if (pattern.substr(0, 4) == "*@*.")
        return local_part(r) + "@" + std::string(r.pick(kSubdomains)) + std::string(pattern.substr(3));
    if (pattern.substr(0, 2) == "*@") return local_part(r) + std::string(pattern.substr(1));
    const auto star = pattern.find('*');
    return std::string(pattern.substr(0, star)) + word(r, 1, 2) + std::string(pattern.substr(star + 1));
}

// An address that is probably not blocked: at a freemail provider, at a
// domain the list names for other addresses (a near miss), or at a fresh
// domain, sometimes a subdomain (more suffixes to probe).
inline std::string clean_candidate(const Corpus& c, Rng& r)
{
    const auto where = r.below(100);
    std::string domain;
    if (where < 35)
        domain = std::string(r.pick(kFreemail));
    else if (where < 70 && !c.listed_domains.empty())
        domain = c.listed_domains[r.below(c.listed_domains.size())];
    else
        domain = (r.percent(50) ? std::string(r.pick(kSubdomains)) + "." : std::string()) + random_domain(r);
    return local_part(r) + "@" + domain;
}

}  // namespace sesame::bench
