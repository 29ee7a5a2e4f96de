// address.hpp - mail addresses and the lookup keys derived from them.
//
// Sesame compares addresses case-insensitively, so everything the engine
// stores or looks up is normalised first: angle brackets removed, lower-
// cased, the domain converted to its IDNA A-label form (libidn2). The null
// sender is the empty string (given as "" or "<>").
//
// lookup_keys() gives a recipient's keys from most to least specific, the
// way Postfix's virtual(5) does: user+ext@domain, user@domain, @domain, *.
// Rule keys (what `sesame block add KEY` takes) are an address, "@domain"
// or "*", normalised with normalize_key().
//
// Pure functions; errors are reported as std::nullopt plus a reason string,
// never by exceptions (other than std::bad_alloc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/text/ascii.hpp"

namespace sesame::engine {

// A normalised address: "local@domain", lower-cased, the domain in A-label
// form; one string, so that parsing costs one allocation.
class Address {
  public:
    Address(std::string text, std::size_t at) : text_(std::move(text)), at_(at) {}
    std::string_view local() const { return std::string_view(text_).substr(0, at_); }  // quotes kept
    std::string_view domain() const { return std::string_view(text_).substr(at_ + 1); }
    const std::string& full() const { return text_; }

  private:
    std::string text_;
    std::size_t at_;
};

// Lower-cases ASCII letters; other bytes are kept.
using text::ascii_lower;

// Normalises a domain: lower-case, IDNA to A-labels, syntax checked.
std::optional<std::string> normalize_domain(std::string_view domain, std::string* why = nullptr);

// Parses "local@domain" or "<local@domain>". Not for the null sender.
std::optional<Address> parse_address(std::string_view text, std::string* why = nullptr);

// True for "", "<>" (after trimming blanks).
bool is_null_sender(std::string_view text);

// Normalises a sender: "" for the null sender, else the parsed address.
std::optional<std::string> normalize_sender(std::string_view text, std::string* why = nullptr);

// Normalises a rule key: an address, "@domain" or "*".
std::optional<std::string> normalize_key(std::string_view text, std::string* why = nullptr);

// The base address: the part after the first delimiter character removed
// from the local part ("user+ext" -> "user"). Equal to a.full() without one.
std::string base_address(const Address& a, std::string_view delimiters);

// The recipient's rule keys, most specific first, without duplicates.
std::vector<std::string> lookup_keys(const Address& a, std::string_view delimiters);

}  // namespace sesame::engine
