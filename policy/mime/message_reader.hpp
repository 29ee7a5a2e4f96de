// message_reader.hpp - read what the policy engine needs from a raw message.
//
// read_message() parses RFC 5322 bytes with gmime and fills an
// engine::MessageInfo: From/To/Cc addresses, the decoded subject, ids,
// Delivered-To/X-Original-To, the Received: count, the loop markers and the
// auto-reply suppressors (Auto-Submitted, Precedence, List-Id).
//
// It never throws on malformed input (only std::bad_alloc escapes) and never
// crashes: unparseable addresses are skipped, broken encoded-words are kept
// as raw text, a message with no header at all yields an empty MessageInfo.
// Only the header block (up to the first empty line) is handed to gmime; the
// body is never parsed. Work is bounded: like Postfix's header_size_limit,
// a header longer than kHeaderSizeLimit loses its excess, and at most
// kAddressBudget bytes of From text and as many of To+Cc text are parsed,
// in small slices, so a hostile header costs linear time. No string field
// holds a control character. Thread-safe (each call owns its gmime objects).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "policy/engine/types.hpp"

namespace sesame::mime {

// Bytes kept of one header, folded lines included (Postfix's default).
inline constexpr std::size_t kHeaderSizeLimit = 102400;

// Bytes of address text parsed per kind (From; To and Cc together).
inline constexpr std::size_t kAddressBudget = 128 * 1024;

// The marker every Sesame worker before us wrote; always recognised.
inline constexpr std::string_view kSesWorkerMarker = "X-SES-Worker-Processed";

// Initialises gmime once per process, and creates the GObject classes the
// readers and builders use; safe to call repeatedly and from several
// threads. read_message() calls it too; a daemon calls it before it starts
// threads.
void mime_init();

// MARKER is the configured marker header name; X-SES-Worker-Processed is
// always recognised as well. If both are present, MARKER is reported.
engine::MessageInfo read_message(std::string_view raw, const std::string& marker);

// The header block of RAW: up to and including the empty line that ends
// it, or all of RAW when there is none. A leading mbox "From " line is kept.
std::string_view header_block(std::string_view raw);

}  // namespace sesame::mime
