// smtp_wire.cpp - replies, EHLO keywords, MAIL FROM and the DATA body.
//
// Pure functions over bytes: see smtp_wire.hpp for the contract. The reply
// parser follows RFC 5321 4.2 (Reply-line) and takes a bare LF as a line
// end too, as Postfix's client does; continuation lines may repeat or omit
// text; the code of the last line is the reply's code, as in Postfix.
// Limits (kMaxReplyLine, kMaxReplyLines) keep a hostile or broken server
// from growing our buffers without bound. No state, thread-safe.
//
// Nothing here throws except std::bad_alloc; a malformed reply is reported
// with a one-line reason quoting at most 80 bytes of the offending line.
#include "policy/deliver/smtp_wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace sesame::deliver::wire {
namespace {

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

// At most 80 bytes of LINE, with control bytes shown as '?'.
std::string quote(std::string_view line)
{
    std::string out;
    for (char c : line.substr(0, 80)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (line.size() > 80) out += "...";
    return out;
}

std::string upper(std::string_view s)
{
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string Reply::text() const
{
    std::string out = std::to_string(code);
    for (const std::string& line : lines) {
        if (line.empty()) continue;
        out += ' ';
        // One line for logs and bounces: control bytes (a stray CR) masked.
        for (char c : line) {
            auto u = static_cast<unsigned char>(c);
            out += (u < 0x20 || u == 0x7f) ? '?' : c;
        }
    }
    return out;
}

ParseStatus parse_reply(std::string_view input, Reply& out, std::size_t& consumed, std::string& error)
{
    Reply reply;
    std::size_t pos = 0;
    for (;;) {
        std::size_t eol = input.find('\n', pos);
        if (eol == std::string_view::npos) {
            // A CR at the end may be the first half of the line's CRLF, the LF
            // still to come: the line is measured without it, as below.
            std::string_view partial = input.substr(pos);
            if (!partial.empty() && partial.back() == '\r') partial.remove_suffix(1);
            if (partial.size() > kMaxReplyLine) {
                error = "reply line longer than " + std::to_string(kMaxReplyLine) + " bytes";
                return ParseStatus::malformed;
            }
            return ParseStatus::incomplete;
        }
        std::string_view line = input.substr(pos, eol - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > kMaxReplyLine) {
            error = "reply line longer than " + std::to_string(kMaxReplyLine) + " bytes";
            return ParseStatus::malformed;
        }
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) || line[0] < '2' ||
            line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
            error = "malformed reply line \"" + quote(line) + "\"";
            return ParseStatus::malformed;
        }
        reply.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
        pos = eol + 1;
        bool more = line.size() > 3 && line[3] == '-';
        if (!more) break;
        if (reply.lines.size() >= kMaxReplyLines) {
            error = "reply longer than " + std::to_string(kMaxReplyLines) + " lines";
            return ParseStatus::malformed;
        }
    }
    out = std::move(reply);
    consumed = pos;
    return ParseStatus::complete;
}

Capabilities parse_ehlo(const Reply& reply)
{
    Capabilities caps;
    // The first line is the server's name and greeting, not a keyword.
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
        std::string_view line = reply.lines[i];
        std::size_t space = line.find(' ');
        std::string keyword = upper(line.substr(0, space));
        std::string_view arg = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        if (keyword == "PIPELINING") {
            caps.pipelining = true;
        } else if (keyword == "8BITMIME") {
            caps.eightbitmime = true;
        } else if (keyword == "SMTPUTF8") {
            caps.smtputf8 = true;
        } else if (keyword == "CHUNKING") {
            caps.chunking = true;
        } else if (keyword == "SIZE") {
            std::uint64_t limit = 0;
            auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), limit);
            caps.size = (ec == std::errc{} && end == arg.data() + arg.size()) ? limit : 0;
        }
    }
    return caps;
}

namespace {

// Appends MESSAGE's lines to OUT, each ending in CRLF (a bare LF gets its CR,
// a missing final line end is added), with one more '.' before a line that
// starts with one when DOT_STUFF. A line at a time: memchr finds the ends.
void append_crlf_lines(std::string_view message, std::string& out, bool dot_stuff)
{
    const char* p = message.data();
    const char* const end = p + message.size();
    while (p < end) {
        if (dot_stuff && *p == '.') out += '.';
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        if (nl == nullptr) {
            out.append(p, end);
            out += "\r\n";
            break;
        }
        const bool has_cr = nl > message.data() && nl[-1] == '\r';
        out.append(p, nl);
        out += has_cr ? "\n" : "\r\n";
        p = nl + 1;
    }
}

}  // namespace

std::string encode_body(std::string_view message)
{
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 8);
    append_crlf_lines(message, out, true);
    out += ".\r\n";
    return out;
}

std::string_view canonical_body(std::string_view message, std::string& storage)
{
    // Canonical already when every LF follows a CR and the last byte is an LF.
    bool canonical = message.ends_with("\r\n");
    for (std::size_t at = 0; canonical;) {
        const void* nl = std::memchr(message.data() + at, '\n', message.size() - at);
        if (nl == nullptr) break;
        at = static_cast<std::size_t>(static_cast<const char*>(nl) - message.data());
        canonical = at > 0 && message[at - 1] == '\r';
        ++at;
    }
    if (canonical) return message;
    storage.clear();
    storage.reserve(message.size() + message.size() / 64 + 2);
    append_crlf_lines(message, storage, false);
    return storage;
}

std::string bdat_last_command(std::size_t size)
{
    return "BDAT " + std::to_string(size) + " LAST\r\n";
}

bool has_8bit(std::string_view bytes)
{
    // Eight bytes at a time: any high bit set in the word.
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, bytes.data() + i, 8);
        if (w & kHigh) return true;
    }
    for (; i < bytes.size(); ++i)
        if (static_cast<unsigned char>(bytes[i]) >= 0x80) return true;
    return false;
}

bool valid_address(std::string_view address)
{
    return std::none_of(address.begin(), address.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || c == '<' || c == '>';
    });
}

std::string_view strip_brackets(std::string_view address)
{
    if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
        address.remove_prefix(1);
        address.remove_suffix(1);
    }
    return address;
}

std::string mail_command(std::string_view sender, const MailParams& params)
{
    std::string out = "MAIL FROM:<";
    out += sender;
    out += '>';
    if (params.size > 0) out += " SIZE=" + std::to_string(params.size);
    if (params.body_8bitmime) out += " BODY=8BITMIME";
    if (params.smtputf8) out += " SMTPUTF8";
    out += "\r\n";
    return out;
}

std::string rcpt_command(std::string_view recipient)
{
    std::string out = "RCPT TO:<";
    out += recipient;
    out += ">\r\n";
    return out;
}

}  // namespace sesame::deliver::wire
