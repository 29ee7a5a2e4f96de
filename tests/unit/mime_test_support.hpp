// mime_test_support.hpp - what the MIME test files share: the context a
// reply or resend is composed in (a fixed host name and time), and a
// composed message read back with GMime, the way a receiving MUA would.
#pragma once

#include <gmime/gmime.h>

#include <string>
#include <string_view>
#include <utility>

#include "policy/engine/types.hpp"
#include "policy/mime/compose.hpp"
#include "policy/mime/gobject_ptr.hpp"
#include "policy/mime/message_reader.hpp"
#include "tests/unit/test_text.hpp"

namespace sesame::mime::test {

constexpr engine::Time kComposeTime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 UTC

inline ComposeContext compose_context(std::string marker = testdata::kMarker)
{
    return ComposeContext{std::move(marker), "mx1.example.com", kComposeTime};
}

// RAW parsed by GMime; null when GMime finds no message in it.
inline GObjectPtr<GMimeMessage> parse(std::string_view raw)
{
    mime_init();
    GObjectPtr<GMimeStream> stream = adopt(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
    GObjectPtr<GMimeParser> parser = adopt(g_mime_parser_new_with_stream(stream.get()));
    return adopt(g_mime_parser_construct_message(parser.get(), nullptr));
}

}  // namespace sesame::mime::test
