// config_doc_test.cpp - docs/config.md against the key table it is made from.
//
// The committed docs/config.md must equal config_reference_markdown() byte for
// byte (the failure says how to regenerate it); the example file at its end
// must parse back to the defaults; every row of the table must be documented on
// one line without characters that would break the markdown table; and every
// key must appear in the reference. Reads SESAME_SOURCE_DIR/docs/config.md.
//
// No sockets, no environment; the only file read is the committed document.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "policy/config/config.hpp"

namespace sesame::config {
namespace {

const std::string kDocPath = std::string(SESAME_SOURCE_DIR) + "/docs/config.md";

// The first line where A and B differ, as "line N: got ... / want ...".
std::string first_difference(const std::string& got, const std::string& want)
{
    std::istringstream g(got), w(want);
    std::string gl, wl;
    for (int line = 1;; ++line) {
        bool more_g = static_cast<bool>(std::getline(g, gl));
        bool more_w = static_cast<bool>(std::getline(w, wl));
        if (!more_g && !more_w) return "(they differ only in the final newline)";
        if (!more_g) gl = "(end of file)";
        if (!more_w) wl = "(end of file)";
        if (gl != wl || !more_g || !more_w)
            return "line " + std::to_string(line) + ":\n  committed: " + gl + "\n  generated: " + wl;
    }
}

TEST(ConfigDoc, CommittedReferenceIsUpToDate)
{
    std::ifstream in(kDocPath, std::ios::binary);
    ASSERT_TRUE(in) << kDocPath << " is missing; generate it with\n"
                    << "  cmake --build BUILD-DIR --target config-doc";
    std::ostringstream committed;
    committed << in.rdbuf();
    const std::string generated = config_reference_markdown();
    EXPECT_TRUE(committed.str() == generated)
        << "docs/config.md is out of date with the key table in policy/config/config.cpp.\n"
        << "Regenerate it with\n"
        << "  cmake --build BUILD-DIR --target config-doc\n"
        << "and commit the result. First difference, " << first_difference(committed.str(), generated);
}

TEST(ConfigDoc, ExampleParsesToTheDefaults)
{
    const std::string md = config_reference_markdown();
    const std::string open = "```toml\n";
    const auto start = md.find(open);
    ASSERT_NE(start, std::string::npos);
    const auto end = md.find("```", start + open.size());
    ASSERT_NE(end, std::string::npos);
    const std::string example = md.substr(start + open.size(), end - start - open.size());
    Config want;
    want.source = "example";
    try {
        EXPECT_EQ(parse_config(example, "example"), want) << example;
    } catch (const ConfigError& e) {
        ADD_FAILURE() << e.what() << "\n" << example;
    }
}

TEST(ConfigDoc, EveryKeyIsDocumented)
{
    const std::string md = config_reference_markdown();
    std::set<std::string> seen;
    for (const KeyInfo& k : config_keys()) {
        SCOPED_TRACE(k.name);
        EXPECT_TRUE(seen.insert(k.name).second) << "duplicate key";
        EXPECT_FALSE(k.doc.empty());
        EXPECT_EQ(k.doc.find('\n'), std::string::npos);
        EXPECT_EQ(k.doc.find('|'), std::string::npos);
        EXPECT_FALSE(k.type.empty());
        EXPECT_FALSE(k.default_toml.empty());
        EXPECT_NE(md.find("| `" + k.name + "` | " + k.type + " | "), std::string::npos) << "no row in the reference";
    }
    EXPECT_EQ(md.rfind("# Configuration reference\n", 0), 0u);
}

TEST(ConfigDoc, KeysOfTheDesignAreInTheTable)
{
    std::set<std::string> names;
    for (const KeyInfo& k : config_keys()) names.insert(k.name);
    for (const char* name :
         {"store.backend",       "store.sqlite",         "policy.domains",    "policy.recipient_delimiter",
          "policy.max_hops",     "policy.marker_header", "milter.socket",     "milter.reinject",
          "outbound.route",      "srs.domain",           "srs.secret_file",   "aws.region",
          "aws.endpoint",        "ingest.concurrency",   "ingest.deliver_to", "ingest.queue",
          "ingest.queue.domain", "ingest.queue.url",     "http.listen",       "log.level",
          "log.target"})
        EXPECT_TRUE(names.count(name)) << name;
}

}  // namespace
}  // namespace sesame::config
