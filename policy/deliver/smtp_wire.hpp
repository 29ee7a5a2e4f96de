// smtp_wire.hpp - the bytes of SMTP/LMTP, without sockets: replies, EHLO
// keywords, MAIL FROM parameters and the DATA body encoding.
//
// Everything here is a pure function of its arguments (no I/O, no clocks,
// no globals), so it is tested byte for byte without a server and may be
// called from any thread. smtp_client.cpp drives these over a connection.
//
// How it fails: parse_reply() reports malformed input with a one-line
// reason and never throws; the others cannot fail except by std::bad_alloc.
// Body encoding (RFC 5321 4.1.1.4 and 4.5.2, and what Postfix's smtpd
// reads): LF and CRLF both end a line and leave as CRLF; a bare CR is an
// ordinary byte and is sent as is, as Postfix keeps it; lines starting with
// '.' get one more '.'; a missing final line end is added. A BDAT chunk
// (RFC 3030 CHUNKING) carries the same lines without the dots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sesame::deliver::wire {

// One server reply: its code and the text of each line (after "NNN-"/"NNN ").
struct Reply {
    int code = 0;
    std::vector<std::string> lines;

    // "550 5.1.1 <x>: unknown": code, then every line's text, space-joined,
    // control bytes shown as '?'.
    std::string text() const;
    int kind() const { return code / 100; }
};

enum class ParseStatus { complete, incomplete, malformed };

// Parses one reply from the start of INPUT (lines end in CRLF or LF). On
// `complete` sets OUT and CONSUMED (bytes used); on `malformed` sets ERROR.
ParseStatus parse_reply(std::string_view input, Reply& out, std::size_t& consumed, std::string& error);

// Longest reply line and most lines per reply accepted before `malformed`.
inline constexpr std::size_t kMaxReplyLine = 4096;
inline constexpr std::size_t kMaxReplyLines = 200;

// What an EHLO/LHLO reply advertised (all false after HELO).
struct Capabilities {
    bool pipelining = false;
    bool eightbitmime = false;
    bool smtputf8 = false;
    bool chunking = false;              // BDAT
    std::optional<std::uint64_t> size;  // SIZE with a limit (0 = no limit)
};
Capabilities parse_ehlo(const Reply& reply);

// The DATA body: CRLF line ends, dot-stuffed, ending with CRLF "." CRLF.
std::string encode_body(std::string_view message);

// MESSAGE with CRLF line ends and a final CRLF, for BDAT: MESSAGE itself
// when it is so already (the usual case: no copy), else a copy in STORAGE.
std::string_view canonical_body(std::string_view message, std::string& storage);

// "BDAT <size> LAST" CRLF: the whole message as one chunk.
std::string bdat_last_command(std::size_t size);

// Any byte with the high bit set.
bool has_8bit(std::string_view bytes);

// An envelope address we can put between < and >: no control characters
// (CR, LF, NUL, ... and DEL), no '<' or '>'. The empty string is valid (<>).
bool valid_address(std::string_view address);

// ADDRESS without one enclosing pair of angle brackets, if it has one.
std::string_view strip_brackets(std::string_view address);

struct MailParams {
    std::uint64_t size = 0;  // 0: no SIZE parameter
    bool body_8bitmime = false;
    bool smtputf8 = false;
};
// "MAIL FROM:<s> SIZE=n BODY=8BITMIME SMTPUTF8\r\n", "RCPT TO:<r>\r\n".
std::string mail_command(std::string_view sender, const MailParams& params);
std::string rcpt_command(std::string_view recipient);

}  // namespace sesame::deliver::wire
