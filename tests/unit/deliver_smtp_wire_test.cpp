// deliver_smtp_wire_test.cpp - the SMTP client's bytes, without a server.
//
// Tables with got/want for what smtp_wire.hpp promises: the DATA body
// encoding (CRLF normalisation, bare CR kept, dot-stuffing, the final dot),
// reply parsing (multi-line, bare LF, incomplete and malformed input, the
// length limits), EHLO keywords, MAIL FROM parameters and address checks;
// and Endpoint::parse / to_string, including every refusal's reason. No
// sockets, no threads: suite names SmtpWire and SmtpEndpoint.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "policy/deliver/smtp_client.hpp"
#include "policy/deliver/smtp_wire.hpp"

namespace sesame::deliver {
namespace {

struct BodyCase {
    std::string name;
    std::string message;
    std::string want;
};

TEST(SmtpWire, EncodeBody)
{
    const std::vector<BodyCase> cases = {
        {"empty message", "", ".\r\n"},
        {"crlf kept", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
        {"bare lf becomes crlf", "a\nb\n", "a\r\nb\r\n.\r\n"},
        {"mixed line ends", "a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n.\r\n"},
        {"missing final line end added", "a\nb", "a\r\nb\r\n.\r\n"},
        {"bare cr kept as a byte", "a\rb\n", "a\rb\r\n.\r\n"},
        {"cr at the very end", "a\r", "a\r\r\n.\r\n"},
        {"leading dot stuffed", ".hidden\n", "..hidden\r\n.\r\n"},
        {"lone dot line stuffed", "a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n"},
        {"two dots become three", "..x\n", "...x\r\n.\r\n"},
        {"dot after bare lf stuffed (no smuggled end)", "a\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"dot after bare cr not a line start", "a\r.\r\n", "a\r.\r\n.\r\n"},
        {"dot inside a line untouched", "a.b\n", "a.b\r\n.\r\n"},
        {"blank lines kept", "\n\n", "\r\n\r\n.\r\n"},
        {"eight-bit bytes untouched", "caf\xc3\xa9\n", "caf\xc3\xa9\r\n.\r\n"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(wire::encode_body(c.message), c.want) << c.name;
    }
}

// The BDAT chunk: the same lines as DATA's, no dots added, no terminator;
// a message already in that form is used as it is, not copied.
TEST(SmtpWire, CanonicalBody)
{
    const std::vector<BodyCase> cases = {
        {"empty message", "", ""},
        {"crlf kept", "a\r\nb\r\n", "a\r\nb\r\n"},
        {"bare lf becomes crlf", "a\nb\n", "a\r\nb\r\n"},
        {"one bare lf among crlf", "a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n"},
        {"missing final line end added", "a\r\nb", "a\r\nb\r\n"},
        {"bare cr kept as a byte", "a\rb\n", "a\rb\r\n"},
        {"lf first", "\na\r\n", "\r\na\r\n"},
        {"dots untouched", ".hidden\r\n.\r\n..x\n", ".hidden\r\n.\r\n..x\r\n"},
    };
    for (const auto& c : cases) {
        std::string storage;
        EXPECT_EQ(wire::canonical_body(c.message, storage), c.want) << c.name;
    }
    const std::string crlf = "Subject: x\r\n\r\nbody\r\n";
    std::string storage;
    EXPECT_EQ(wire::canonical_body(crlf, storage).data(), crlf.data()) << "copied although already canonical";
    EXPECT_EQ(wire::bdat_last_command(25), "BDAT 25 LAST\r\n");
}

struct ReplyCase {
    std::string name;
    std::string input;
    wire::ParseStatus status;
    int code;
    std::string text;
    std::size_t consumed;
};

TEST(SmtpWire, ParseReply)
{
    using S = wire::ParseStatus;
    const std::vector<ReplyCase> cases = {
        {"one line", "250 2.0.0 Ok\r\n", S::complete, 250, "250 2.0.0 Ok", 14},
        {"bare lf", "250 Ok\n", S::complete, 250, "250 Ok", 7},
        {"code only", "250\r\n", S::complete, 250, "250", 5},
        {"multi-line", "550-5.1.1 first\r\n550 5.1.1 second\r\n", S::complete, 550, "550 5.1.1 first 5.1.1 second", 35},
        {"control bytes masked",
         "250 a\rb\x01"
         "c\r\n",
         S::complete, 250, "250 a?b?c", 11},
        {"only the first reply", "250 a\r\n354 b\r\n", S::complete, 250, "250 a", 7},
        {"ehlo with empty last line", "250-smtp-sink\r\n250-PIPELINING\r\n250 \r\n", S::complete, 250,
         "250 smtp-sink PIPELINING", 37},
        {"incomplete line", "250 Ok", S::incomplete, 0, "", 0},
        {"incomplete multi-line", "250-a\r\n", S::incomplete, 0, "", 0},
        {"empty", "", S::incomplete, 0, "", 0},
        {"not a code", "hello\r\n", S::malformed, 0, "", 0},
        {"bad separator", "250x\r\n", S::malformed, 0, "", 0},
        {"1xx is not smtp", "199 what\r\n", S::malformed, 0, "", 0},
        {"too short", "25\r\n", S::malformed, 0, "", 0},
    };
    for (const auto& c : cases) {
        wire::Reply reply;
        std::size_t consumed = 0;
        std::string error;
        wire::ParseStatus got = wire::parse_reply(c.input, reply, consumed, error);
        EXPECT_EQ(got, c.status) << c.name;
        if (got == S::complete) {
            EXPECT_EQ(reply.code, c.code) << c.name;
            EXPECT_EQ(reply.text(), c.text) << c.name;
            EXPECT_EQ(consumed, c.consumed) << c.name;
        }
        if (got == S::malformed) {
            EXPECT_FALSE(error.empty()) << c.name;
        }
    }
}

TEST(SmtpWire, ParseReplyLimits)
{
    wire::Reply reply;
    std::size_t consumed = 0;
    std::string error;
    std::string long_line = "250 " + std::string(wire::kMaxReplyLine + 10, 'x');
    EXPECT_EQ(wire::parse_reply(long_line, reply, consumed, error), wire::ParseStatus::malformed);
    EXPECT_NE(error.find("longer than"), std::string::npos) << error;

    std::string many;
    for (std::size_t i = 0; i < wire::kMaxReplyLines + 1; ++i) many += "250-x\r\n";
    many += "250 x\r\n";
    EXPECT_EQ(wire::parse_reply(many, reply, consumed, error), wire::ParseStatus::malformed);

    // A malformed line is quoted with its control bytes masked.
    EXPECT_EQ(wire::parse_reply("oops\x01\r\n", reply, consumed, error), wire::ParseStatus::malformed);
    EXPECT_EQ(error, "malformed reply line \"oops?\"");
}

TEST(SmtpWire, ParseEhlo)
{
    wire::Reply reply;
    std::size_t consumed = 0;
    std::string error;
    ASSERT_EQ(wire::parse_reply("250-mx.example.com hello\r\n250-pipelining\r\n250-SIZE 10240000\r\n"
                                "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n",
                                reply, consumed, error),
              wire::ParseStatus::complete);
    wire::Capabilities caps = wire::parse_ehlo(reply);
    EXPECT_TRUE(caps.pipelining);
    EXPECT_TRUE(caps.eightbitmime);
    EXPECT_TRUE(caps.smtputf8);
    EXPECT_TRUE(caps.chunking);
    ASSERT_TRUE(caps.size.has_value());
    EXPECT_EQ(*caps.size, 10240000u);

    // The greeting line is not a keyword; nothing advertised, nothing set.
    ASSERT_EQ(wire::parse_reply("250 PIPELINING\r\n", reply, consumed, error), wire::ParseStatus::complete);
    caps = wire::parse_ehlo(reply);
    EXPECT_FALSE(caps.pipelining);
    EXPECT_FALSE(caps.chunking);
    EXPECT_FALSE(caps.size.has_value());
}

TEST(SmtpWire, MailAndRcptCommands)
{
    EXPECT_EQ(wire::mail_command("", {}), "MAIL FROM:<>\r\n");
    EXPECT_EQ(wire::mail_command("a@b", {}), "MAIL FROM:<a@b>\r\n");
    EXPECT_EQ(wire::mail_command("a@b", {123, true, false}), "MAIL FROM:<a@b> SIZE=123 BODY=8BITMIME\r\n");
    EXPECT_EQ(wire::mail_command("j\xc3\xb6@b", {0, false, true}), "MAIL FROM:<j\xc3\xb6@b> SMTPUTF8\r\n");
    EXPECT_EQ(wire::rcpt_command("c@d"), "RCPT TO:<c@d>\r\n");
}

TEST(SmtpWire, Addresses)
{
    EXPECT_TRUE(wire::valid_address(""));
    EXPECT_TRUE(wire::valid_address("a@b"));
    EXPECT_TRUE(wire::valid_address("\"john doe\"@b"));
    EXPECT_TRUE(wire::valid_address("j\xc3\xb6@b"));
    EXPECT_FALSE(wire::valid_address("a@b\r\nRCPT TO:<evil@x>"));
    EXPECT_FALSE(wire::valid_address(std::string("a\0b", 3)));
    EXPECT_FALSE(wire::valid_address("a>b"));
    EXPECT_FALSE(wire::valid_address("a\x7f"));
    EXPECT_EQ(wire::strip_brackets("<a@b>"), "a@b");
    EXPECT_EQ(wire::strip_brackets("<>"), "");
    EXPECT_EQ(wire::strip_brackets("a@b"), "a@b");
    EXPECT_EQ(wire::strip_brackets("<a@b"), "<a@b");
    EXPECT_TRUE(wire::has_8bit("caf\xc3\xa9"));
    EXPECT_FALSE(wire::has_8bit("plain\r\n"));
}

struct EndpointCase {
    std::string spec;
    Endpoint::Protocol protocol;
    std::string host;
    int port;
    std::string unix_path;
    std::string back;  // to_string()
};

TEST(SmtpEndpoint, Parse)
{
    using P = Endpoint::Protocol;
    const std::vector<EndpointCase> cases = {
        {"smtp:127.0.0.1:2525", P::smtp, "127.0.0.1", 2525, "", "smtp:127.0.0.1:2525"},
        {"lmtp:127.0.0.1:24", P::lmtp, "127.0.0.1", 24, "", "lmtp:127.0.0.1:24"},
        {"lmtp:unix:/run/dovecot/lmtp", P::lmtp, "", 0, "/run/dovecot/lmtp", "lmtp:unix:/run/dovecot/lmtp"},
        {"smtp:unix:/run/smtp.sock", P::smtp, "", 0, "/run/smtp.sock", "smtp:unix:/run/smtp.sock"},
        {"smtp:[::1]:2525", P::smtp, "::1", 2525, "", "smtp:[::1]:2525"},
        {"smtp:localhost:25", P::smtp, "localhost", 25, "", "smtp:localhost:25"},
        {"lmtp:inet:mail.example.com:24", P::lmtp, "mail.example.com", 24, "", "lmtp:mail.example.com:24"},
        {"smtp:127.0.0.1:65535", P::smtp, "127.0.0.1", 65535, "", "smtp:127.0.0.1:65535"},
    };
    for (const auto& c : cases) {
        Endpoint e = Endpoint::parse(c.spec);
        EXPECT_EQ(e.protocol, c.protocol) << c.spec;
        EXPECT_EQ(e.host, c.host) << c.spec;
        EXPECT_EQ(e.port, c.port) << c.spec;
        EXPECT_EQ(e.unix_path, c.unix_path) << c.spec;
        EXPECT_EQ(e.to_string(), c.back) << c.spec;
        EXPECT_EQ(Endpoint::parse(e.to_string()).to_string(), c.back) << c.spec;
    }
}

TEST(SmtpEndpoint, Refusals)
{
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"127.0.0.1:2525", "expected smtp:HOST:PORT, lmtp:HOST:PORT or lmtp:unix:/PATH"},
        {"esmtp:127.0.0.1:25", "expected smtp:HOST:PORT"},
        {"smtp:127.0.0.1", "missing :PORT"},
        {"smtp::2525", "missing host"},
        {"smtp:127.0.0.1:", "the port must be a number from 1 to 65535"},
        {"smtp:127.0.0.1:0", "the port must be a number from 1 to 65535"},
        {"smtp:127.0.0.1:65536", "the port must be a number from 1 to 65535"},
        {"smtp:127.0.0.1:25x", "the port must be a number from 1 to 65535"},
        {"smtp:127.0.0.1:-1", "the port must be a number from 1 to 65535"},
        {"smtp:::1:25", "an IPv6 address must be written in [brackets]"},
        {"smtp:[::1:25", "missing ']'"},
        {"smtp:[::1]25", "missing :PORT"},
        {"smtp:bad host:25", "invalid character in the host"},
        {"lmtp:unix:relative/path", "the unix socket path must be absolute"},
        {"lmtp:unix:", "the unix socket path must be absolute"},
        {"lmtp:unix:/" + std::string(200, 'x'), "longer than 107 bytes"},
    };
    for (const auto& [spec, reason] : cases) {
        try {
            Endpoint::parse(spec);
            ADD_FAILURE() << spec << ": accepted";
        } catch (const std::invalid_argument& e) {
            std::string what = e.what();
            EXPECT_NE(what.find(reason), std::string::npos) << spec << ": got \"" << what << "\"";
            EXPECT_EQ(what.find('\n'), std::string::npos) << spec;
        }
    }
}

TEST(SmtpEndpoint, OutcomeNames)
{
    EXPECT_STREQ(to_string(Outcome::ok), "ok");
    EXPECT_STREQ(to_string(Outcome::tempfail), "tempfail");
    EXPECT_STREQ(to_string(Outcome::permfail), "permfail");
}

}  // namespace
}  // namespace sesame::deliver
