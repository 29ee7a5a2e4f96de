// bounce_fuzz.cpp - libFuzzer target for SES bounces (aws/ingest/bounce.hpp):
// read_ses_bounce() and rewrite_bounce().
//
// Input: a first line with the envelope sender (SES's mail.source; also
// used as the original's sender), then the raw message. Beyond no crash, no
// exception and no sanitizer report, it checks what bounce.hpp promises of a
// bounce it reads: from an SES MAILER-DAEMON, 1..1000 failed recipients with
// Action "failed", at most 16 distinct non-empty ids, every string on one
// line without control characters, subjects in valid UTF-8. Then the message
// is rewritten (for the bounce read, or else for one naming the sender line
// as its failed recipient) and it checks what the ingest daemon relies on:
// the body after the header block is kept byte for byte, the new fields
// are on top, the marker is seen by mime::read_message, and any From that
// read_message() finds is the SES MAILER-DAEMON one (a From that the
// rewriting missed would show the original's sender as the bounce's
// author). A broken promise aborts, so libFuzzer saves the input. Built
// only with SESAME_FUZZ=ON (clang); run by the CTest test fuzz.bounce.
#include <glib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "aws/ingest/bounce.hpp"
#include "policy/mime/message_reader.hpp"
#include "policy/text/ascii.hpp"

namespace {

namespace ingest = sesame::ingest;

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

bool clean(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

bool utf8(std::string_view s)
{
    return g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr);
}

void check_bounce(const ingest::SesBounce& b)
{
    require(ingest::is_ses_mailer_daemon(b.from_address));
    require(!b.failed_recipients.empty() && b.failed_recipients.size() <= 1000);
    require(b.original_message_ids.size() <= 16);
    for (std::size_t i = 0; i < b.original_message_ids.size(); ++i) {
        require(!b.original_message_ids[i].empty() && clean(b.original_message_ids[i]));
        for (std::size_t j = i + 1; j < b.original_message_ids.size(); ++j)
            require(b.original_message_ids[i] != b.original_message_ids[j]);
    }
    for (const ingest::BouncedRecipient& r : b.failed_recipients) {
        require(r.action == "failed" && !r.address.empty());
        for (const std::string* s : {&r.address, &r.action, &r.status, &r.diagnostic}) require(clean(*s));
        require(utf8(r.diagnostic));
    }
    for (const std::string* s : {&b.subject, &b.original_subject, &b.from_address}) require(clean(*s) && utf8(*s));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    sesame::mime::mime_init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const std::string marker = "X-Sesame-Processed";
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    const auto nl = raw.find('\n');
    if (nl == std::string_view::npos) return 0;
    std::string_view sender = raw.substr(0, nl);
    if (!sender.empty() && sender.back() == '\r') sender.remove_suffix(1);
    raw.remove_prefix(nl + 1);

    const std::optional<ingest::SesBounce> read = ingest::read_ses_bounce(raw, sender);
    ingest::SesBounce bounce;
    if (read) {
        check_bounce(*read);
        bounce = *read;
    } else {
        if (!clean(sender) || !utf8(sender) || sender.empty()) return 0;  // not what a SesBounce holds
        bounce.from_address = "MAILER-DAEMON@eu-west-1.amazonses.com";
        bounce.failed_recipients.push_back({std::string(sender), "failed", "5.1.1", "smtp; 550 5.1.1 unknown"});
        bounce.failed_recipients.push_back({"second@example.com", "failed", "5.2.2", "smtp; 552 full"});
    }

    const std::string out = ingest::rewrite_bounce(raw, bounce, sender, marker);
    const std::string_view body = raw.substr(sesame::mime::header_block(raw).size());
    require(out.size() >= body.size() && out.compare(out.size() - body.size(), body.size(), body) == 0);
    require(out.compare(0, ingest::kBounceForHeader.size(), ingest::kBounceForHeader) == 0);

    const sesame::engine::MessageInfo info = sesame::mime::read_message(out, marker);
    require(info.has_marker && info.marker_name == marker);
    if (info.from_address) require(sesame::text::iequals(*info.from_address, bounce.from_address));
    return 0;
}
