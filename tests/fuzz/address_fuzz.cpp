// address_fuzz.cpp - libFuzzer target for address parsing and normalising
// (policy/engine/address.hpp): parse_address, normalize_sender,
// normalize_key, normalize_domain, base_address and lookup_keys.
//
// Input: an optional first line of recipient delimiters (when the input
// holds a LF), then the text as an envelope address, header address or rule
// key would arrive. Beyond no crash, no exception and no sanitizer report,
// it checks: a refusal always says why; a parsed address is "local@domain"
// with a non-empty local part, no ASCII capital, a domain without blanks or
// control bytes that is its own normalize_domain() (A-labels, lower case)
// or a [literal]; normalising is
// idempotent (parse_address, normalize_sender and normalize_key of their own
// output give it back); lookup_keys() is full address, base address (when
// different), "@domain", "*", most specific first, without duplicates, and
// each key but the base address is a normalised rule key. A broken promise
// aborts, so libFuzzer saves the input. Built only with SESAME_FUZZ=ON
// (clang); run by the CTest test fuzz.address.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/address.hpp"

namespace {

namespace engine = sesame::engine;

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

bool has_capital(std::string_view s)
{
    return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool ends_with(std::string_view s, std::string_view tail)
{
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// What normalize_key() gives a key, or "" when it refuses it.
std::string key_of(std::string_view text)
{
    std::string why;
    const std::optional<std::string> k = engine::normalize_key(text, &why);
    if (!k) require(!why.empty());
    return k.value_or(std::string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string_view delimiters = "+";
    if (const auto nl = text.find('\n'); nl != std::string_view::npos) {
        delimiters = text.substr(0, std::min<std::size_t>(nl, 4));
        text.remove_prefix(nl + 1);
    }

    // A rule key, as `sesame block add KEY` takes it.
    if (const std::string key = key_of(text); !key.empty()) {
        require(key_of(key) == key);
        require(!has_capital(key));
        require(key == "*" || key.find('@') != std::string::npos);
    }

    // A sender: "" for the null sender, else the parsed address.
    std::string why;
    if (const std::optional<std::string> s = engine::normalize_sender(text, &why)) {
        require(s->empty() == engine::is_null_sender(text));
        require(engine::normalize_sender(*s) == *s);
    } else {
        require(!why.empty());
    }

    // A recipient.
    why.clear();
    const std::optional<engine::Address> a = engine::parse_address(text, &why);
    if (!a) {
        require(!why.empty());
        return 0;
    }
    const std::string& full = a->full();
    require(!a->local().empty() && !a->domain().empty());
    require(full.size() == a->local().size() + 1 + a->domain().size());
    require(full[a->local().size()] == '@');
    require(!has_capital(full));
    // Strict about what a postmaster types: no blank or control byte but in a quoted local part.
    for (char c : a->domain()) require(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
    const std::string domain(a->domain());
    if (!(domain.front() == '[' && domain.back() == ']')) require(engine::normalize_domain(domain) == domain);

    const std::optional<engine::Address> again = engine::parse_address(full);
    require(again.has_value() && again->full() == full && again->local() == a->local());
    require(key_of(full) == full);

    const std::vector<std::string> keys = engine::lookup_keys(*a, delimiters);
    require(keys.size() == 3 || keys.size() == 4);
    require(keys.front() == full && keys.back() == "*" && keys[keys.size() - 2] == "@" + domain);
    require(key_of(keys[keys.size() - 2]) == keys[keys.size() - 2]);
    for (std::size_t i = 0; i < keys.size(); ++i)
        for (std::size_t j = i + 1; j < keys.size(); ++j) require(keys[i] != keys[j]);
    const std::string base = engine::base_address(*a, delimiters);
    require(ends_with(base, "@" + domain) && base.size() <= full.size());
    if (keys.size() == 4) require(keys[1] == base && base != full);
    return 0;
}
