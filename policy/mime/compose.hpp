// compose.hpp - the messages Sesame writes: out-of-office replies, resend
// forwards, and the one-header-on-top copy used by redirect forwards.
//
// build_autoreply() and build_resend() build a new message with gmime and
// return it as RFC 5322 bytes with CRLF line ends; add_header_on_top() is
// plain string work that leaves every byte of the original in place (so
// DKIM signatures still verify). The caller hands in the time, the host name
// and the marker header name; nothing here reads a clock or the network.
//
// Thread safety: safe from any thread once mime_init() has run (the gmime
// builders call it themselves); each call owns all of its gmime objects.
// Failure: nothing throws except std::bad_alloc. Odd input (control
// characters, invalid UTF-8, empty fields, huge lines, malformed originals)
// is cleaned or worked around and still yields a well-formed message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/types.hpp"

namespace sesame::mime {

// Used when ComposeContext::marker_header is not a usable field name.
inline constexpr std::string_view kDefaultMarker = "X-Sesame-Processed";

// What every generated message needs from its caller.
struct ComposeContext {
    std::string marker_header;  // e.g. X-Sesame-Processed
    std::string hostname;       // right-hand side of Message-ID ("localhost" if empty)
    engine::Time now = 0;       // Date: of the new message
};

// The out-of-office reply for ACTION (RFC 3834: Auto-Submitted: auto-replied,
// In-Reply-To/References, marker "auto-replied"); text/plain, or
// multipart/alternative when ACTION.html is set.
std::string build_autoreply(const engine::AutoReplyAction& action, const ComposeContext& ctx);

// The `resend` forward of ORIGINAL by FORWARDER to TARGETS: "Fwd: subject",
// Reply-To the original sender, marker "forwarded", a short text part and
// the original attached unchanged as message/rfc822 (application/octet-stream
// when it cannot travel as a message part).
std::string build_resend(std::string_view original, std::string_view forwarder, std::string_view envelope_sender,
                         const std::vector<std::string>& targets, const ComposeContext& ctx);

// ORIGINAL with "NAME: VALUE" inserted as its first line, ended as the
// original's own first line is (CRLF when it has none); nothing else moves.
std::string add_header_on_top(std::string_view original, std::string_view name, std::string_view value);

}  // namespace sesame::mime
