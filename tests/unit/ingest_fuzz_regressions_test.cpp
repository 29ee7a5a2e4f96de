// ingest_fuzz_regressions_test.cpp - inputs the fuzz targets of aws/ingest
// found wrong, kept as tests once fixed.
//
// Each case replays its crash input from the target's seed corpus
// (tests/fuzz/corpus-*/) the way the target does. Suite name
// IngestFuzzRegressions; no files but the corpus, no sockets.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "aws/ingest/bounce.hpp"
#include "policy/engine/types.hpp"
#include "policy/mime/message_reader.hpp"

namespace sesame::ingest {
namespace {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// bounce_fuzz, tests/fuzz/corpus-bounce/rewritten-from-over-1k.eml: a
// bounce for a failed recipient with a long non-ASCII address gets a From
// display name of more than 1 KB once encoded; mime::read_message cut it
// at 1024 bytes and read "MAILER-DAEMON@eu-" as the rewritten bounce's From
// (the fix is in policy/mime/message_reader.cpp, collect_addresses).
TEST(IngestFuzzRegressions, RewrittenFromOverOneKilobyte)
{
    const std::string input =
        read_file(std::string(SESAME_SOURCE_DIR) + "/tests/fuzz/corpus-bounce/rewritten-from-over-1k.eml");
    const std::size_t nl = input.find('\n');
    ASSERT_NE(nl, std::string::npos);
    const std::string sender = input.substr(0, nl);
    const std::string_view raw = std::string_view(input).substr(nl + 1);
    ASSERT_FALSE(read_ses_bounce(raw, sender).has_value());

    // As bounce_fuzz builds it when the input is not an SES bounce.
    SesBounce bounce;
    bounce.from_address = "MAILER-DAEMON@eu-west-1.amazonses.com";
    bounce.failed_recipients.push_back({sender, "failed", "5.1.1", "smtp; 550 5.1.1 unknown"});
    bounce.failed_recipients.push_back({"second@example.com", "failed", "5.2.2", "smtp; 552 full"});
    const std::string out = rewrite_bounce(raw, bounce, sender, "X-Sesame-Processed");
    ASSERT_GT(out.find("\n <MAILER-DAEMON@eu-west-1.amazonses.com>\n"), out.find("\nFrom: "));

    const engine::MessageInfo info = mime::read_message(out, "X-Sesame-Processed");
    EXPECT_TRUE(info.has_marker);
    EXPECT_TRUE(!info.from_address || *info.from_address == bounce.from_address) << *info.from_address;
}

}  // namespace
}  // namespace sesame::ingest
