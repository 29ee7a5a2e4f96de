// deliver_fuzz_regressions_test.cpp - inputs the fuzz targets of
// policy/deliver found wrong, kept as tests once fixed.
//
// Each case names the fuzz target and its crash input, which is also kept in
// that target's seed corpus (tests/fuzz/corpus-*/), so the fuzzer starts
// from it too. Suite name DeliverFuzzRegressions; no sockets.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "policy/deliver/smtp_wire.hpp"

namespace sesame::deliver {
namespace {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

wire::ParseStatus parse(std::string_view input, std::size_t* consumed = nullptr)
{
    wire::Reply reply;
    std::size_t used = 0;
    std::string error;
    wire::ParseStatus status = wire::parse_reply(input, reply, used, error);
    if (consumed) *consumed = used;
    return status;
}

// smtp_reply_fuzz, tests/fuzz/corpus-smtp_reply/longest-line.txt: a line of
// exactly kMaxReplyLine bytes whose CR had arrived and its LF not yet was
// refused as "longer than 4096 bytes", although the same line complete is
// accepted: the client's answer depended on where the socket read stopped.
TEST(DeliverFuzzRegressions, LongestReplyLineCutBetweenCrAndLf)
{
    const std::string line = "250 " + std::string(wire::kMaxReplyLine - 4, 'x');
    ASSERT_EQ(line.size(), wire::kMaxReplyLine);
    EXPECT_EQ(parse(line + "\r\n"), wire::ParseStatus::complete);
    EXPECT_EQ(parse(line + "\r"), wire::ParseStatus::incomplete);
    EXPECT_EQ(parse(line), wire::ParseStatus::incomplete);
    // One byte more is still too long, with or without the CR.
    EXPECT_EQ(parse(line + "x\r"), wire::ParseStatus::malformed);
    EXPECT_EQ(parse(line + "x"), wire::ParseStatus::malformed);
    EXPECT_EQ(parse(line + "x\r\n"), wire::ParseStatus::malformed);

    // The corpus file, cut before and after each of its line ends.
    const std::string input =
        read_file(std::string(SESAME_SOURCE_DIR) + "/tests/fuzz/corpus-smtp_reply/longest-line.txt");
    std::size_t consumed = 0;
    ASSERT_EQ(parse(input, &consumed), wire::ParseStatus::complete);
    for (std::size_t eol = input.find('\n'); eol < consumed; eol = input.find('\n', eol + 1)) {
        EXPECT_EQ(parse(input.substr(0, eol)), wire::ParseStatus::incomplete) << "cut before the LF at " << eol;
        if (eol + 1 < consumed) {
            EXPECT_EQ(parse(input.substr(0, eol + 1)), wire::ParseStatus::incomplete) << "cut after " << eol;
        }
    }
}

}  // namespace
}  // namespace sesame::deliver
