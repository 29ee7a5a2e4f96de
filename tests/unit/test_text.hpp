// test_text.hpp - test data as text: a file of tests/data read whole, its
// line ends turned one way or the other (for the tests that run each sample
// both as written and with the other line ends), and values shown readably
// in a failed expectation. Header-only; for unit tests built with
// SESAME_SOURCE_DIR defined. The unit programs are unity builds (one
// translation unit each), so a helper two test files of one program need is
// kept here, not written in each.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The marker header Sesame's default configuration names.
inline const std::string kMarker = "X-Sesame-Processed";

// "\"value\"", or "(none)": what a parser returned, for a failure message.
inline std::string show(const std::optional<std::string>& v)
{
    return v ? "\"" + *v + "\"" : "(none)";
}

// {"a", "b"}: a list of strings, for a failure message.
inline std::string show(const std::vector<std::string>& v)
{
    std::string s = "{";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
    return s + "}";
}

}  // namespace sesame::testdata
