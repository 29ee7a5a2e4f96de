// mime_fuzz_regressions_test.cpp - inputs the fuzz targets found wrong in
// policy/mime, kept as tests once fixed.
//
// Each case names the fuzz target and its crash input, which is also kept in
// a seed corpus (tests/fuzz/corpus*/), so the fuzzers start from it too.
// Suite name MimeFuzzRegressions; no files but the corpus, no sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/engine/types.hpp"
#include "policy/mime/message_reader.hpp"

namespace sesame::mime {
namespace {

// bounce_fuzz, tests/fuzz/corpus-bounce/rewritten-from-over-1k.eml (the
// header_reader corpus has from-over-1k.eml): an address header is parsed in
// slices, and one item longer than a slice (1024 bytes: a long display name)
// was cut in two, so its "<MAILER-DAEMON@eu-" was read as the From address.
// An item too long for a slice is no longer cut: only the angle address
// that ends it is read, and the items around it are read as before.
TEST(MimeFuzzRegressions, AddressLongerThanASliceIsNotCut)
{
    // Long enough that the old cut at 1024 bytes fell inside the domain.
    const std::string long_name = "\"" + std::string(1000, 'n') + "\"";
    const std::string daemon = "MAILER-DAEMON@eu-west-1.amazonses.com";

    engine::MessageInfo m = read_message("From: " + long_name + " <" + daemon + ">\nSubject: s\n\n", "");
    EXPECT_TRUE(!m.from_address || *m.from_address == daemon) << *m.from_address;
    EXPECT_EQ(m.subject, "s");

    // An encoded-word display name, folded as gmime writes it.
    std::string encoded = "From: \"Delivery failed:\"";
    for (int i = 0; i < 30; ++i) encoded += "\n =?UTF-8?q?MAILER-DAEMON=40amazonses=C3=AD-" + std::to_string(i) + "?=";
    m = read_message(encoded + "\n <" + daemon + ">\n\n", "");
    EXPECT_TRUE(!m.from_address || *m.from_address == daemon) << *m.from_address;

    // The long item's own address and the items before and after it are
    // read, in order (the old cut gave "x@ex" and "ample.com" here).
    m = read_message("To: a@example.com, " + long_name + " <x@example.com>, b@example.com\nCc: c@example.com\n\n", "");
    EXPECT_EQ(m.to_cc, (std::vector<std::string>{"a@example.com", "x@example.com", "b@example.com", "c@example.com"}));

    // Short items keep being read whole, however many there are.
    std::string to = "To: ";
    for (int i = 0; i < 200; ++i) to += "\"User " + std::to_string(i) + "\" <u" + std::to_string(i) + "@example.com>, ";
    m = read_message(to + "\n\n", "");
    ASSERT_EQ(m.to_cc.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(m.to_cc[i], "u" + std::to_string(i) + "@example.com");
}

}  // namespace
}  // namespace sesame::mime
