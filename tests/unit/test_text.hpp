// test_text.hpp - test data as text: a file of tests/data read whole, and
// its line ends turned one way or the other (for the tests that run each
// sample both as written and with the other line ends). Header-only; for
// unit tests built with SESAME_SOURCE_DIR defined.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace sesame::testdata {

// tests/data/PATH, byte for byte; a missing file fails the test.
inline std::string read(const std::string& path)
{
    std::ifstream in(std::string(SESAME_SOURCE_DIR) + "/tests/data/" + path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open tests/data/" << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every LF not already preceded by CR becomes CR LF.
inline std::string with_crlf(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
        out += s[i];
    }
    return out;
}

// Every CR LF becomes LF.
inline std::string with_lf(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out += s[i];
    return out;
}

}  // namespace sesame::testdata
