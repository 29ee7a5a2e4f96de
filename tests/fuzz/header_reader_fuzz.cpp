// header_reader_fuzz.cpp - libFuzzer target for sesame::mime::read_message.
//
// Feeds arbitrary bytes to read_message (with our marker name) and checks
// the promises every caller relies on, whatever the input: no crash, no
// exception, no sanitizer report, no control character in any field (a
// decoded CR LF must never reach a header Sesame writes), a subject in
// valid UTF-8, a Message-ID that is empty or in angle brackets, has_marker
// agreeing with marker_name, no more Received headers than lines. A broken
// promise aborts, so libFuzzer saves the input as a crash. Built only with
// SESAME_FUZZ=ON (clang); run by the CTest test fuzz.header_reader.
#include <glib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/mime/message_reader.hpp"

namespace {

void require(bool ok)
{
    if (!ok) std::abort();
}

void require_clean(std::string_view s)
{
    for (char c : s) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
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
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    const sesame::engine::MessageInfo m = sesame::mime::read_message(raw, marker);

    if (m.from_address) {
        require(!m.from_address->empty());
        require_clean(*m.from_address);
    }
    for (const std::string& a : m.to_cc) {
        require(!a.empty());
        require_clean(a);
    }
    for (const std::string& a : m.delivered_to) {
        require(!a.empty());
        require_clean(a);
    }
    require(m.original_to.size() <= m.delivered_to.size());
    for (const std::string& a : m.original_to) require_clean(a);
    for (std::string_view s :
         {std::string_view(m.subject), std::string_view(m.message_id), std::string_view(m.references),
          std::string_view(m.in_reply_to), std::string_view(m.marker_name), std::string_view(m.auto_submitted),
          std::string_view(m.precedence)})
        require_clean(s);
    require(g_utf8_validate(m.subject.data(), static_cast<gssize>(m.subject.size()), nullptr));
    require(m.message_id.empty() ||
            (m.message_id.size() > 2 && m.message_id.front() == '<' && m.message_id.back() == '>'));
    require(m.has_marker == !m.marker_name.empty());
    require(m.marker_name.empty() || m.marker_name == marker || m.marker_name == sesame::mime::kSesWorkerMarker);
    require(m.received_count >= 0 && static_cast<std::size_t>(m.received_count) <= size / 10 + 1);
    for (char c : m.auto_submitted + m.precedence) require(!(c >= 'A' && c <= 'Z'));
    return 0;
}
