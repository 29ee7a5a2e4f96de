// smtp_reply_fuzz.cpp - libFuzzer target for the SMTP reply parser
// (sesame::deliver::wire::parse_reply, then parse_ehlo on what it parsed).
//
// Feeds arbitrary bytes as what a server sent, and checks what the delivery
// client relies on, whatever the input: no crash, no sanitizer report;
// `complete` consumes 4..size bytes ending in LF, a code of 200..599, 1 to
// kMaxReplyLines lines of at most kMaxReplyLine bytes without LF, a text()
// on one printable line; `malformed` gives a one-line, bounded reason. And
// the client reads a socket, so the answer must not depend on where the
// bytes were cut: parsing only the consumed bytes gives the same reply, and
// every shorter prefix (cut before or after any line's LF) is `incomplete`,
// never `malformed`. A broken promise aborts, so libFuzzer saves the input.
// Built only with SESAME_FUZZ=ON (clang); run by the CTest test
// fuzz.smtp_reply.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/deliver/smtp_wire.hpp"

namespace {

namespace wire = sesame::deliver::wire;

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

void require_clean(std::string_view s)
{
    for (char c : s) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
}

wire::ParseStatus parse(std::string_view input, wire::Reply& reply, std::size_t& consumed, std::string& error)
{
    reply = {};
    consumed = 0;
    error.clear();
    return wire::parse_reply(input, reply, consumed, error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    wire::Reply reply;
    std::size_t consumed = 0;
    std::string error;
    const wire::ParseStatus status = parse(input, reply, consumed, error);

    if (status == wire::ParseStatus::malformed) {
        require(!error.empty() && error.size() < 200);
        require_clean(error);
        return 0;
    }
    if (status == wire::ParseStatus::incomplete) return 0;

    require(consumed >= 4 && consumed <= size);
    require(input[consumed - 1] == '\n');
    require(reply.code >= 200 && reply.code <= 599);
    require(reply.kind() >= 2 && reply.kind() <= 5);
    require(!reply.lines.empty() && reply.lines.size() <= wire::kMaxReplyLines);
    for (const std::string& line : reply.lines) {
        require(line.size() <= wire::kMaxReplyLine);
        require(line.find('\n') == std::string::npos);
    }
    const std::string text = reply.text();
    require_clean(text);
    require(text.compare(0, 3, std::to_string(reply.code)) == 0);

    // The bytes after the reply play no part in it.
    const std::string_view mine = input.substr(0, consumed);
    wire::Reply again;
    std::size_t consumed_again = 0;
    require(parse(mine, again, consumed_again, error) == wire::ParseStatus::complete);
    require(consumed_again == consumed && again.code == reply.code && again.lines == reply.lines);

    // Cut anywhere around a line end, the reply is still to come.
    for (std::size_t eol = mine.find('\n'); eol != std::string_view::npos; eol = mine.find('\n', eol + 1)) {
        require(parse(mine.substr(0, eol), again, consumed_again, error) == wire::ParseStatus::incomplete);
        if (eol + 1 < mine.size())
            require(parse(mine.substr(0, eol + 1), again, consumed_again, error) == wire::ParseStatus::incomplete);
    }

    // EHLO keywords come from the lines after the greeting.
    const wire::Capabilities caps = wire::parse_ehlo(reply);
    if (reply.lines.size() == 1)
        require(!caps.pipelining && !caps.eightbitmime && !caps.smtputf8 && !caps.chunking && !caps.size);
    return 0;
}
