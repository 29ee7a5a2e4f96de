// config_security_test.cpp - the configuration's part in docs/security.md:
// what is exposed when nothing is configured, and what a value in the file
// can never smuggle into mail.
//
// The built-in defaults and the packaged /etc/sesame/sesame.conf (etc/) keep
// every listener and every hand-off on loopback, fail closed (tempfail) and
// drop root for the sesame user; the marker header name, which the milter
// adds with smfi_addheader and the composer writes into every message, must
// be an RFC 5322 field name, so no line break or colon gets through.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "policy/config/config.hpp"

namespace sesame::config {
namespace {

std::string packaged()
{
    std::ifstream in(std::string(SESAME_SOURCE_DIR) + "/etc/sesame.conf", std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open etc/sesame.conf";
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(ConfigSecurity, DefaultsAndThePackagedFileStayOnLoopbackAndFailClosed)
{
    for (const auto& [name, c] : {std::pair{"built-in defaults", parse_config("", "empty.conf")},
                                  std::pair{"etc/sesame.conf", parse_config(packaged(), "etc/sesame.conf")}}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(c.http_listen.rfind("127.0.0.1:", 0), 0u) << c.http_listen;
        EXPECT_EQ(c.http_ingest_listen.rfind("127.0.0.1:", 0), 0u) << c.http_ingest_listen;
        EXPECT_EQ(c.milter_socket.rfind("unix:/", 0), 0u) << c.milter_socket;
        EXPECT_EQ(c.milter_reinject.rfind("smtp:127.0.0.1:", 0), 0u) << c.milter_reinject;
        EXPECT_EQ(c.ingest_deliver_to.rfind("smtp:127.0.0.1:", 0), 0u) << c.ingest_deliver_to;
        EXPECT_EQ(c.outbound_route.rfind("smtp:127.0.0.1:", 0), 0u) << c.outbound_route;
        EXPECT_EQ(c.milter_on_error, "tempfail");
        EXPECT_EQ(c.daemon_user, "sesame");
        EXPECT_EQ(c.daemon_group, "sesame");
        EXPECT_EQ(c.srs_secret_file, "/etc/sesame/srs.secret");
        EXPECT_TRUE(c.aws_endpoint.empty()) << "no endpoint override: the real AWS, over https";
    }
}

TEST(ConfigSecurity, AMarkerHeaderNameCannotCarryALineBreakOrAColon)
{
    for (const char* value : {R"(X-A\r\nBcc: victim@victim.example)", R"(X-A\nBcc)", R"(X-A\rB)", R"(X-A\u0000)",
                              R"(X-A:)", R"(X A)", R"(X-Ä)", R"()"}) {
        const std::string text = std::string("[policy]\nmarker_header = \"") + value + "\"\n";
        EXPECT_THROW(parse_config(text, "t.conf"), ConfigError) << text;
    }
    EXPECT_EQ(parse_config("[policy]\nmarker_header = \"X-Mark\"\n", "t.conf").marker_header, "X-Mark");
}

// The hand-off targets are what they say: no line break, blank or second
// target can ride along in a value.
TEST(ConfigSecurity, HandOffTargetsAreSingleWellFormedEndpoints)
{
    for (const char* key : {"[milter]\nreinject", "[ingest]\ndeliver_to", "[outbound]\nroute"}) {
        for (const char* value : {R"(smtp:127.0.0.1:2525\r\nRSET)", "smtp:127.0.0.1:2525 smtp:evil.example:25",
                                  "smtp:127.0.0.1:99999", "smtp::2525", "smtp:127.0.0.1"}) {
            const std::string text = std::string(key) + " = \"" + value + "\"\n";
            EXPECT_THROW(parse_config(text, "t.conf"), ConfigError) << text;
        }
    }
    EXPECT_THROW(parse_config("[http]\nlisten = \"127.0.0.1:9187\\n\"\n", "t.conf"), ConfigError);
}

}  // namespace
}  // namespace sesame::config
