// address.cpp - parsing and normalising addresses, domains and rule keys.
//
// Deliberately strict about what a postmaster types (a stray space or a
// missing '@' is an error with a reason) and forgiving about case. Domains
// go through libidn2 so that "bücher.example" and "xn--bcher-kva.example"
// are the same key. Pure; no exceptions except std::bad_alloc.
#include "policy/engine/address.hpp"

#include <idn2.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace sesame::engine {

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

void set(std::string* why, std::string reason)
{
    if (why) *why = std::move(reason);
}

bool is_ascii(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

namespace {

// Checks a lower-case ASCII domain D; false (and WHY) if it is malformed.
bool valid_domain(std::string_view d, std::string* why)
{
    if (d.size() > 253) {
        set(why, "domain longer than 253 characters");
        return false;
    }
    // Domain literals ([192.0.2.1], [IPv6:2001:db8::1]) are accepted as they
    // are when made of RFC 5321 dcontent: printable ASCII but '[', '\\', ']'.
    if (d.size() >= 2 && d.front() == '[' && d.back() == ']') {
        const std::string_view inner = d.substr(1, d.size() - 2);
        if (!inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
                return c > 0x20 && c < 0x7f && c != '[' && c != '\\' && c != ']';
            }))
            return true;
        set(why, "invalid domain literal \"" + std::string(d) + "\"");
        return false;
    }
    std::size_t label = 0;
    for (std::size_t i = 0; i <= d.size(); ++i) {
        if (i == d.size() || d[i] == '.') {
            if (label == 0) {
                set(why, "empty label in domain \"" + std::string(d) + "\"");
                return false;
            }
            if (label > 63) {
                set(why, "label longer than 63 characters in \"" + std::string(d) + "\"");
                return false;
            }
            label = 0;
            continue;
        }
        char c = d[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            set(why, std::string("invalid character '") + c + "' in domain \"" + std::string(d) + "\"");
            return false;
        }
        ++label;
    }
    return true;
}

// DOMAIN without blanks and a trailing dot (the FQDN form); "" if empty.
std::string_view bare_domain(std::string_view domain)
{
    domain = trim(domain);
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    return domain;
}

void append_lower(std::string& out, std::string_view s)
{
    for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
}

}  // namespace

std::optional<std::string> normalize_domain(std::string_view domain, std::string* why)
{
    domain = bare_domain(domain);
    if (domain.empty()) {
        set(why, "empty domain");
        return std::nullopt;
    }
    std::string d;
    if (is_ascii(domain)) {
        d = ascii_lower(domain);
    } else {
        char* out = nullptr;
        const std::string in(domain);
        int rc = idn2_to_ascii_8z(in.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        std::unique_ptr<char, decltype(&idn2_free)> guard(out, &idn2_free);
        if (rc != IDN2_OK) {
            set(why, std::string("invalid international domain: ") + idn2_strerror(rc));
            return std::nullopt;
        }
        d = ascii_lower(out);
    }
    if (!valid_domain(d, why)) return std::nullopt;
    return d;
}

std::optional<Address> parse_address(std::string_view text, std::string* why)
{
    std::string_view s = trim(text);
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
    if (s.empty()) {
        set(why, "empty address");
        return std::nullopt;
    }
    auto at = s.rfind('@');
    if (at == std::string_view::npos) {
        set(why, "address \"" + std::string(s) + "\" has no '@domain'");
        return std::nullopt;
    }
    std::string_view local = s.substr(0, at);
    if (local.empty()) {
        set(why, "address \"" + std::string(s) + "\" has an empty local part");
        return std::nullopt;
    }
    if (local.size() > 64 * 4) {
        set(why, "local part too long");
        return std::nullopt;
    }
    bool quoted = local.size() >= 2 && local.front() == '"' && local.back() == '"';
    for (char c : local) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || ((c == ' ' || c == '<' || c == '>') && !quoted)) {
            set(why, "invalid character in address \"" + std::string(s) + "\"");
            return std::nullopt;
        }
        if (c == '@' && !quoted) {
            set(why, "address \"" + std::string(s) + "\" has more than one '@'");
            return std::nullopt;
        }
    }
    std::string reason;
    const std::string_view dom = bare_domain(s.substr(at + 1));
    std::string out;
    if (!dom.empty() && is_ascii(dom)) {  // the common case: one allocation
        out.reserve(local.size() + 1 + dom.size());
        append_lower(out, local);
        out.push_back('@');
        append_lower(out, dom);
        if (valid_domain(std::string_view(out).substr(local.size() + 1), &reason))
            return Address(std::move(out), local.size());
    } else if (auto d = normalize_domain(dom, &reason)) {
        out = ascii_lower(local);
        out.push_back('@');
        out += *d;
        return Address(std::move(out), local.size());
    }
    if (dom.empty()) reason = "empty domain";
    set(why, "address \"" + std::string(s) + "\": " + reason);
    return std::nullopt;
}

bool is_null_sender(std::string_view text)
{
    text = trim(text);
    return text.empty() || text == "<>";
}

std::optional<std::string> normalize_sender(std::string_view text, std::string* why)
{
    if (is_null_sender(text)) return std::string();
    auto a = parse_address(text, why);
    if (!a) return std::nullopt;
    return a->full();
}

std::optional<std::string> normalize_key(std::string_view text, std::string* why)
{
    std::string_view s = trim(text);
    if (s == "*") return std::string("*");
    if (!s.empty() && s.front() == '@') {
        std::string reason;
        auto d = normalize_domain(s.substr(1), &reason);
        if (!d) {
            set(why, "key \"" + std::string(s) + "\": " + reason);
            return std::nullopt;
        }
        return "@" + *d;
    }
    std::string reason;
    auto a = parse_address(s, &reason);
    if (!a) {
        set(why, "key \"" + std::string(s) + "\" is not an address, @domain or *: " + reason);
        return std::nullopt;
    }
    return a->full();
}

std::string base_address(const Address& a, std::string_view delimiters)
{
    if (delimiters.empty()) return a.full();
    auto cut = a.local().find_first_of(delimiters);
    // A local part that starts with the delimiter ("+foo") has no base.
    if (cut == std::string::npos || cut == 0) return a.full();
    std::string base(a.local().substr(0, cut));
    base.push_back('@');
    base.append(a.domain());
    return base;
}

std::vector<std::string> lookup_keys(const Address& a, std::string_view delimiters)
{
    std::vector<std::string> keys;
    keys.reserve(4);
    keys.push_back(a.full());
    std::string base = base_address(a, delimiters);
    if (base != keys.front()) keys.push_back(std::move(base));
    std::string domain_key;
    domain_key.reserve(a.domain().size() + 1);
    domain_key.push_back('@');
    domain_key.append(a.domain());
    keys.push_back(std::move(domain_key));
    keys.push_back("*");
    return keys;
}

}  // namespace sesame::engine
