// config_error_test.cpp - what an invalid configuration file is told.
//
// Got/want tables over parse_config(): each kind of bad value (wrong type, out
// of range, not an allowed word, malformed address, socket, route, domain or
// header name), unknown keys and tables with their did-you-mean hints, missing
// and duplicate [[ingest.queue]] entries, and TOML syntax errors. Each case
// gives the exact one-line message "FILE:LINE: reason"; syntax error reasons
// come from toml11, so those cases pin the line and the prefix only. Every
// error must be a ConfigError with no newline in what().
//
// No files, sockets or environment: everything is parsed from strings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/config/config.hpp"

namespace sesame::config {
namespace {

// The what() of parse_config(TEXT), or "(accepted)".
std::string error_of(const std::string& text)
{
    try {
        parse_config(text, "t.conf");
        return "(accepted)";
    } catch (const ConfigError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("(not a ConfigError) ") + e.what();
    }
}

struct Case {
    std::string text;
    std::string want;  // the whole what()
};

void run(const std::vector<Case>& cases)
{
    for (const Case& tc : cases) {
        const std::string got = error_of(tc.text);
        EXPECT_EQ(got, tc.want) << "input:\n" << tc.text;
        EXPECT_EQ(got.find('\n'), std::string::npos) << "not one line: " << got;
    }
}

TEST(ConfigErrors, WrongType)
{
    run({
        {"[policy]\n\nmax_hops = \"30\"\n", "t.conf:3: policy.max_hops: expected an integer, got a string"},
        {"[policy]\nmax_hops = 30.0\n", "t.conf:2: policy.max_hops: expected an integer, got a float"},
        {"[store]\nbackend = 1\n", "t.conf:2: store.backend: expected a string, got an integer"},
        {"[ingest]\ndelete_blocked = \"yes\"\n",
         "t.conf:2: ingest.delete_blocked: expected true or false, got a string"},
        {"[policy]\ndomains = \"example.com\"\n",
         "t.conf:2: policy.domains: expected an array of strings, got a string"},
        {"[policy]\ndomains = [\n  \"a.example\",\n  3,\n]\n",
         "t.conf:4: policy.domains: expected a string in the array, got an integer"},
        {"[log]\nlevel = 1979-05-27\n", "t.conf:2: log.level: expected a string, got a date"},
        {"policy = 3\n", "t.conf:1: policy: expected a table ([policy]), got an integer"},
        {"[store]\ndynamodb = \"x\"\n", "t.conf:2: store.dynamodb: expected a table ([store.dynamodb]), got a string"},
        {"[milter]\nsocket = [\"unix:/a\"]\n", "t.conf:2: milter.socket: expected a string, got an array"},
    });
}

TEST(ConfigErrors, OutOfRange)
{
    run({
        {"[policy]\nmax_hops = 0\n", "t.conf:2: policy.max_hops: 0 is out of range 1..1000"},
        {"[policy]\nmax_hops = 1001\n", "t.conf:2: policy.max_hops: 1001 is out of range 1..1000"},
        {"[policy]\nmax_hops = -5\n", "t.conf:2: policy.max_hops: -5 is out of range 1..1000"},
        {"[ingest]\nconcurrency = 0\n", "t.conf:2: ingest.concurrency: 0 is out of range 1..1024"},
        {"[ingest]\nconcurrency = 1025\n", "t.conf:2: ingest.concurrency: 1025 is out of range 1..1024"},
    });
}

TEST(ConfigErrors, NotAnAllowedWord)
{
    run({
        {"[store]\nbackend = \"mysql\"\n", R"(t.conf:2: store.backend: "mysql" is not one of "sqlite", "dynamodb")"},
        {"[store]\nbackend = \"SQLite\"\n", R"(t.conf:2: store.backend: "SQLite" is not one of "sqlite", "dynamodb")"},
        {"[log]\nlevel = \"verbose\"\n", R"(t.conf:2: log.level: "verbose")"
                                         R"( is not one of "debug", "info", "notice", "warning", "error")"},
        {"[log]\ntarget = \"file\"\n", R"(t.conf:2: log.target: "file" is not one of "syslog", "stderr")"},
        {"[milter]\non_error = \"reject\"\n",
         R"(t.conf:2: milter.on_error: "reject" is not one of "tempfail", "accept")"},
    });
}

TEST(ConfigErrors, BadPolicyValues)
{
    run({
        {"[policy]\nrecipient_delimiter = \"a\"\n",
         R"(t.conf:2: policy.recipient_delimiter: "a" cannot be a delimiter)"
         R"( (use punctuation allowed in a local part, such as "+" or "-"))"},
        {"[policy]\nrecipient_delimiter = \"+@\"\n",
         R"(t.conf:2: policy.recipient_delimiter: "@" cannot be a delimiter)"
         R"( (use punctuation allowed in a local part, such as "+" or "-"))"},
        {"[policy]\nrecipient_delimiter = \"+ \"\n",
         R"(t.conf:2: policy.recipient_delimiter: " " cannot be a delimiter)"
         R"( (use punctuation allowed in a local part, such as "+" or "-"))"},
        {"[policy]\nrecipient_delimiter = \"+-=_.~!#$\"\n",
         R"(t.conf:2: policy.recipient_delimiter: "+-=_.~!#$" is too long)"
         R"( (at most 8 delimiter characters))"},
        {"[policy]\nmarker_header = \"X Sesame\"\n",
         R"(t.conf:2: policy.marker_header: "X Sesame" is not a header field name)"
         R"( (printable ASCII, no space or colon))"},
        {"[policy]\nmarker_header = \"X-Sesame:\"\n",
         R"(t.conf:2: policy.marker_header: "X-Sesame:" is not a header field name)"
         R"( (printable ASCII, no space or colon))"},
        {"[policy]\nmarker_header = \"\"\n", R"(t.conf:2: policy.marker_header: "" is not a header field name)"
                                             R"( (printable ASCII, no space or colon))"},
        {"[policy]\ndomains = [\"exa mple.com\"]\n",
         R"(t.conf:2: policy.domains: "exa mple.com" is not a domain name)"},
        {"[policy]\ndomains = [\"@example.com\"]\n",
         R"(t.conf:2: policy.domains: "@example.com" is not a domain name (leave out the @))"},
        {"[policy]\ndomains = [\"-bad.example\"]\n",
         R"(t.conf:2: policy.domains: "-bad.example" is not a domain name)"},
        {"[policy]\ndomains = [\"example.com.\"]\n",
         R"(t.conf:2: policy.domains: "example.com." is not a domain name)"},
        {"[policy]\ndomains = [\"\"]\n", R"(t.conf:2: policy.domains: empty string is not a domain name)"},
        {"[policy]\ndomains = [\"bücher.example\"]\n",
         R"(t.conf:2: policy.domains: "bücher.example" is not a domain name)"
         R"( (write an IDN domain in its xn-- form))"},
        {"[srs]\ndomain = \"not a domain\"\n", R"(t.conf:2: srs.domain: "not a domain" is not a domain name)"},
    });
}

TEST(ConfigErrors, BadAddresses)
{
    const std::string socket_forms = R"( is not "unix:/PATH", "inet:PORT@HOST" or "inet:PORT")";
    const std::string delivery_forms = R"( is not "smtp:HOST:PORT", "lmtp:HOST:PORT" or "lmtp:unix:/PATH")";
    run({
        {"[milter]\nsocket = \"unix:run/milter\"\n", "t.conf:2: milter.socket: \"unix:run/milter\"" + socket_forms},
        {"[milter]\nsocket = \"inet:99999@127.0.0.1\"\n",
         "t.conf:2: milter.socket: \"inet:99999@127.0.0.1\"" + socket_forms},
        {"[milter]\nsocket = \"inet:8891@\"\n", "t.conf:2: milter.socket: \"inet:8891@\"" + socket_forms},
        {"[milter]\nsocket = \"tcp:8891\"\n", "t.conf:2: milter.socket: \"tcp:8891\"" + socket_forms},
        {"[milter]\nreinject = \"smtp:127.0.0.1\"\n", "t.conf:2: milter.reinject: \"smtp:127.0.0.1\"" + delivery_forms},
        {"[milter]\nreinject = \"smtp:localhost:0\"\n",
         "t.conf:2: milter.reinject: \"smtp:localhost:0\"" + delivery_forms},
        {"[milter]\nreinject = \"127.0.0.1:2525\"\n", "t.conf:2: milter.reinject: \"127.0.0.1:2525\"" + delivery_forms},
        {"[ingest]\ndeliver_to = \"lmtp:unix:run/lmtp\"\n",
         "t.conf:2: ingest.deliver_to: \"lmtp:unix:run/lmtp\"" + delivery_forms},
        {"[ingest]\ndeliver_to = \"smtp:::1:25\"\n", "t.conf:2: ingest.deliver_to: \"smtp:::1:25\"" + delivery_forms},
        {"[outbound]\nroute = \"SES\"\n", R"(t.conf:2: outbound.route: "SES")"
                                          R"( is not "smtp:HOST:PORT", "lmtp:HOST:PORT", "lmtp:unix:/PATH" or "ses")"},
        {"[http]\nlisten = \"9187\"\n", R"(t.conf:2: http.listen: "9187" is not HOST:PORT)"},
        {"[http]\nlisten = \"127.0.0.1:\"\n", R"(t.conf:2: http.listen: "127.0.0.1:" is not HOST:PORT)"},
        {"[daemon]\nuser = \"\"\n", R"(t.conf:2: daemon.user: "" is not a user or group name)"},
        {"[daemon]\ngroup = \"-root\"\n", R"(t.conf:2: daemon.group: "-root" is not a user or group name)"},
        {"[aws]\nendpoint = \"localhost:4566\"\n",
         R"(t.conf:2: aws.endpoint: "localhost:4566" is not an http:// or https:// URL)"},
        {"[aws]\nregion = \"US East\"\n",
         R"(t.conf:2: aws.region: "US East" is not an AWS region name (such as "us-east-1"))"},
        {"[aws]\nregion = \"\"\n", R"(t.conf:2: aws.region: "" is not an AWS region name (such as "us-east-1"))"},
        {"[store]\nsqlite = \"\"\n", "t.conf:2: store.sqlite: must not be empty"},
        {"[store.dynamodb]\nrules_table = \"ab\"\n",
         R"(t.conf:2: store.dynamodb.rules_table: "ab" is not a DynamoDB table name)"
         R"( (3 to 255 of A-Z a-z 0-9 _ . -))"},
    });
}

TEST(ConfigErrors, IngestQueues)
{
    run({
        {"[ingest]\nconcurrency = 2\n\n[[ingest.queue]]\ndomain = \"example.com\"\n",
         R"(t.conf:4: ingest.queue: missing key "url")"},
        {"[[ingest.queue]]\n", R"(t.conf:1: ingest.queue: missing key "domain")"},
        {"[[ingest.queue]]\ndomain = \"example.com\"\nurl = \"sqs://q\"\n",
         R"(t.conf:3: ingest.queue.url: "sqs://q" is not an http:// or https:// URL)"},
        {"[[ingest.queue]]\ndomain = \"ex ample.com\"\nurl = \"https://q\"\n",
         R"(t.conf:2: ingest.queue.domain: "ex ample.com" is not a domain name)"},
        {"[[ingest.queue]]\ndomain = 7\nurl = \"https://q\"\n",
         "t.conf:2: ingest.queue.domain: expected a string, got an integer"},
        {"[[ingest.queue]]\ndomain = \"a.example\"\nurl = \"https://q\"\nregion = \"x\"\n",
         R"(t.conf:4: unknown key "ingest.queue.region")"},
        {"[[ingest.queue]]\ndomain = \"a.example\"\nurl = \"https://q\"\n"
         "[[ingest.queue]]\ndomain = \"b.example\"\nurl = \"https://q\"\n",
         R"(t.conf:4: ingest.queue: queue "https://q" is listed twice)"},
        {"[ingest.queue]\ndomain = \"a.example\"\nurl = \"https://q\"\n",
         "t.conf:1: ingest.queue: expected an array of tables, got a table (write "
         "[[ingest.queue]])"},
        {"[ingest]\nqueue = [\"https://q\"]\n", "t.conf:2: ingest.queue: expected a table, got a string"},
    });
}

TEST(ConfigErrors, UnknownKeysAndTables)
{
    run({
        {"[polcy]\ndomains = [\"example.com\"]\n",
         R"(t.conf:2: unknown key "polcy.domains" (did you mean "policy.domains"?))"},
        {"\n\npolcy.domains = [\"example.com\"]\n",
         R"(t.conf:3: unknown key "polcy.domains" (did you mean "policy.domains"?))"},
        {"[policy]\nmax_hop = 3\n", R"(t.conf:2: unknown key "policy.max_hop" (did you mean "policy.max_hops"?))"},
        {"max_hops = 30\n[policy]\n", R"(t.conf:1: unknown key "max_hops" (did you mean "policy.max_hops"?))"},
        {"[policy]\nfrobnicate = true\n", R"(t.conf:2: unknown key "policy.frobnicate")"},
        {"[store]\n[frobnicate]\n", R"(t.conf:2: unknown table "frobnicate")"},
        {"[store.sqlite3]\npath = \"/x\"\n", R"(t.conf:2: unknown key "store.sqlite3.path")"},
        {"[milter]\nsocket = \"inet:1\"\n[milter.extra]\n", R"(t.conf:3: unknown table "milter.extra")"},
    });
}

TEST(ConfigErrors, TheLowestLineIsReported)
{
    run({
        {"[log]\nlevel = \"loud\"\n[policy]\nmax_hops = 0\n[store]\nbackend = \"x\"\n",
         R"(t.conf:2: log.level: "loud")"
         R"( is not one of "debug", "info", "notice", "warning", "error")"},
        {"[store]\nbackend = \"x\"\n[log]\nlevel = \"loud\"\n",
         R"(t.conf:2: store.backend: "x" is not one of "sqlite", "dynamodb")"},
    });
}

TEST(ConfigErrors, SyntaxErrors)
{
    struct SyntaxCase {
        std::string text;
        std::string want_prefix;  // "t.conf:LINE: syntax error: "
        std::string want_reason;  // the whole reason, or "" to check the prefix only
    };
    const std::vector<SyntaxCase> cases = {
        {"[store]\nbackend = sqlite\n",
         "t.conf:2: syntax error: ", "bad format: unknown value appeared (strings need double quotes)"},
        {"[store]\n\nbackend = \"sqlite\n", "t.conf:3: syntax error: ", ""},
        {"[log]\nlevel = \"info\"\nlevel = \"debug\"\n", "t.conf:3: syntax error: ", "key \"level\" is defined twice"},
        {"[log]\n[policy]\n[log]\n", "t.conf:3: syntax error: ", "table [log] is defined twice"},
        {"\n\n\nkey value\n", "t.conf:4: syntax error: ", "missing key-value separator `=`"},
        {"[store\n", "t.conf:1: syntax error: ", ""},
        {"[policy]\ndomains = [\"a\",\n", "t.conf:", ""},
        {"a = \"\\q\"\n", "t.conf:1: syntax error: ", ""},
    };
    for (const SyntaxCase& tc : cases) {
        const std::string got = error_of(tc.text);
        EXPECT_EQ(got.substr(0, tc.want_prefix.size()), tc.want_prefix) << "input:\n" << tc.text << "got: " << got;
        if (!tc.want_reason.empty()) {
            EXPECT_EQ(got.substr(tc.want_prefix.size()), tc.want_reason) << "input:\n" << tc.text;
        }
        EXPECT_EQ(got.find('\n'), std::string::npos) << "not one line: " << got;
        EXPECT_EQ(got.find("[error]"), std::string::npos) << got;
        EXPECT_EQ(got.find("-->"), std::string::npos) << got;
    }
}

TEST(ConfigErrors, GarbageIsAConfigError)
{
    const std::vector<std::string> inputs = {
        std::string("\xff\xfe[store]\n"),
        std::string("a = 1\0b = 2\n", 12),
        "[[",
        "]]",
        "=",
        "a = [1, 2",
        "a = {",
        "a = 1979-13-45T99:99:99Z\n",
        "\"\"\"",
        "a.b.c.d.e = 1",
    };
    for (const std::string& text : inputs) {
        const std::string got = error_of(text);
        EXPECT_EQ(got.rfind("t.conf", 0), 0u) << "input: " << text << "\ngot: " << got;
        EXPECT_EQ(got.find('\n'), std::string::npos) << "not one line: " << got;
    }
}

}  // namespace
}  // namespace sesame::config
