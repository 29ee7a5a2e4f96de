// notification_fuzz.cpp - libFuzzer target for sesame::ingest::parse_notification.
//
// Feeds arbitrary bytes to parse_notification as an SQS body and checks the
// promises the ingest daemon relies on, whatever the input: no crash, no
// exception, no sanitizer report; a reason for every result but received,
// one printable line short enough to log; for received, non-empty
// message_id, bucket, object_key and 1..kMaxRecipients non-empty
// recipients, and no control character or over-long value in any field
// (a CR LF in a recipient would reach an SMTP command). A broken promise
// aborts, so libFuzzer saves the input as a crash. The seed corpus
// (tests/fuzz/corpus-notification) holds copies of tests/data/ses/*.json.
// Built only with SESAME_FUZZ=ON (clang); run by the CTest test
// fuzz.notification.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aws/ingest/notification.hpp"

namespace {

using sesame::ingest::Notification;

void require(bool ok)
{
    if (!ok) std::abort();
}

void require_clean(std::string_view s)
{
    for (char c : s) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    Notification n;
    try {
        n = sesame::ingest::parse_notification(body);
    } catch (...) {
        std::abort();  // the promise is: nothing but std::bad_alloc, and libFuzzer's RSS limit comes first
    }

    require_clean(n.reason);
    require(n.reason.size() < 400);
    if (n.kind != Notification::Kind::received) {
        require(n.kind == Notification::Kind::acknowledge || n.kind == Notification::Kind::malformed);
        require(!n.reason.empty());
        return 0;
    }

    const sesame::ingest::SesReceipt& r = n.receipt;
    require(size <= sesame::ingest::kMaxBodyBytes);
    require(!r.message_id.empty());
    require(!r.bucket.empty());
    require(!r.object_key.empty());
    require(!r.recipients.empty() && r.recipients.size() <= sesame::ingest::kMaxRecipients);
    for (const std::string& a : r.recipients) {
        require(!a.empty() && a.size() <= sesame::ingest::kMaxFieldBytes);
        require_clean(a);
    }
    for (std::string_view s :
         {std::string_view(r.source), std::string_view(r.message_id), std::string_view(r.timestamp),
          std::string_view(r.bucket), std::string_view(r.object_key), std::string_view(r.subject),
          std::string_view(r.sns_message_id), std::string_view(r.spam_verdict), std::string_view(r.virus_verdict)}) {
        require(s.size() <= sesame::ingest::kMaxFieldBytes);
        require_clean(s);
    }
    // The setup message is never delivered.
    require(r.message_id != sesame::ingest::kSesSetupNotification);
    return 0;
}
