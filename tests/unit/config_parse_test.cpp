// config_parse_test.cpp - what a valid configuration file turns into.
//
// Got/want tables over parse_config(): the built-in defaults, every key of the
// key table set to a non-default value (a test fails when a key is added to the
// table without a case here), normalisation (lower-cased domains), the example
// file of DESIGN.md verbatim, the write-back round trip of config_to_toml(), and
// restart_needed(). Failures print the whole Config as TOML, got and want.
//
// No files, sockets or environment: everything is parsed from strings.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "policy/config/config.hpp"

namespace sesame::config {
namespace {

Config parse(const std::string& text)
{
    return parse_config(text, "t.conf");
}

Config defaults_from(const std::string& source)
{
    Config c;
    c.source = source;
    return c;
}

TEST(ConfigParse, EmptyFileGivesDefaults)
{
    Config got = parse("");
    Config want = defaults_from("t.conf");
    EXPECT_EQ(got, want) << "got:\n" << config_to_toml(got) << "want:\n" << config_to_toml(want);
}

TEST(ConfigParse, DefaultsAreThoseOfTheDesign)
{
    Config c;
    EXPECT_EQ(c.source, "(built-in defaults)");
    EXPECT_EQ(c.store_backend, "sqlite");
    EXPECT_EQ(c.store_sqlite, "/var/lib/sesame/policy.db");
    EXPECT_EQ(c.store_dynamodb_rules_table, "email-rules");
    EXPECT_EQ(c.store_dynamodb_blocked_senders_table, "email-blocked-senders");
    EXPECT_EQ(c.store_dynamodb_outbound_table, "ses-outbound-messages");
    EXPECT_TRUE(c.policy_domains.empty());
    EXPECT_EQ(c.recipient_delimiter, "+");
    EXPECT_EQ(c.max_hops, 30);
    EXPECT_EQ(c.marker_header, "X-Sesame-Processed");
    EXPECT_EQ(c.milter_socket, "unix:/run/sesame/milter.sock");
    EXPECT_EQ(c.milter_reinject, "smtp:127.0.0.1:2525");
    EXPECT_EQ(c.milter_on_error, "tempfail");
    EXPECT_EQ(c.outbound_route, "smtp:127.0.0.1:2525");
    EXPECT_EQ(c.srs_secret_file, "/etc/sesame/srs.secret");
    EXPECT_EQ(c.aws_region, "us-east-1");
    EXPECT_EQ(c.aws_endpoint, "");
    EXPECT_EQ(c.ingest_concurrency, 8);
    EXPECT_EQ(c.ingest_deliver_to, "smtp:127.0.0.1:2525");
    EXPECT_TRUE(c.ingest_queues.empty());
    EXPECT_TRUE(c.ingest_delete_blocked);
    EXPECT_EQ(c.ingest_max_message_bytes, 41943040);
    EXPECT_EQ(c.ingest_retry_seconds, 30);
    EXPECT_EQ(c.aws_ses_endpoint, "");
    EXPECT_EQ(c.http_listen, "127.0.0.1:9187");
    EXPECT_EQ(c.log_level, "info");
    EXPECT_EQ(c.log_target, "syslog");
}

// One case per key: a file setting it, and the change it makes to the defaults.
struct KeyCase {
    std::string key;
    std::string text;
    std::function<void(Config&)> want;
};

const std::vector<KeyCase>& key_cases()
{
    static const std::vector<KeyCase> cases = {
        {"store.backend", "[store]\nbackend = \"dynamodb\"\n", [](Config& c) { c.store_backend = "dynamodb"; }},
        {"store.sqlite", "[store]\nsqlite = \"/srv/sesame/p.db\"\n",
         [](Config& c) { c.store_sqlite = "/srv/sesame/p.db"; }},
        {"store.dynamodb.region", "[store.dynamodb]\nregion = \"eu-west-1\"\n",
         [](Config& c) { c.store_dynamodb_region = "eu-west-1"; }},
        {"store.dynamodb.endpoint", "[store.dynamodb]\nendpoint = \"http://127.0.0.1:4567\"\n",
         [](Config& c) { c.store_dynamodb_endpoint = "http://127.0.0.1:4567"; }},
        {"store.dynamodb.rules_table", "[store.dynamodb]\nrules_table = \"r\\u0031-x\"\n",
         [](Config& c) { c.store_dynamodb_rules_table = "r1-x"; }},
        {"store.dynamodb.blocked_senders_table", "[store]\ndynamodb.blocked_senders_table = \"blocked.v2\"\n",
         [](Config& c) { c.store_dynamodb_blocked_senders_table = "blocked.v2"; }},
        {"store.dynamodb.outbound_table", "store.dynamodb.outbound_table = \"out_msgs\"\n",
         [](Config& c) { c.store_dynamodb_outbound_table = "out_msgs"; }},
        {"store.dynamodb.reply_state_table", "[store.dynamodb]\nreply_state_table = \"ooo\"\n",
         [](Config& c) { c.store_dynamodb_reply_state_table = "ooo"; }},
        {"store.dynamodb.policy_table", "[store.dynamodb]\npolicy_table = \"pol\"\n",
         [](Config& c) { c.store_dynamodb_policy_table = "pol"; }},
        {"store.dynamodb.ingest_state_table", "[store.dynamodb]\ningest_state_table = \"ing\"\n",
         [](Config& c) { c.store_dynamodb_ingest_state_table = "ing"; }},
        {"store.dynamodb.poll_seconds", "[store.dynamodb]\npoll_seconds = 1\n",
         [](Config& c) { c.store_dynamodb_poll_seconds = 1; }},
        {"store.dynamodb.refresh_seconds", "[store.dynamodb]\nrefresh_seconds = 0\n",
         [](Config& c) { c.store_dynamodb_refresh_seconds = 0; }},
        {"policy.domains", "[policy]\ndomains = [\"Example.COM\", \"xn--bcher-kva.example\"]\n",
         [](Config& c) {
             c.policy_domains = {"example.com", "xn--bcher-kva.example"};
         }},
        {"policy.recipient_delimiter", "[policy]\nrecipient_delimiter = \"+-=\"\n",
         [](Config& c) { c.recipient_delimiter = "+-="; }},
        {"policy.max_hops", "[policy]\nmax_hops = 1000\n", [](Config& c) { c.max_hops = 1000; }},
        {"policy.marker_header", "[policy]\nmarker_header = \"X-Mail-Loop\"\n",
         [](Config& c) { c.marker_header = "X-Mail-Loop"; }},
        {"milter.socket", "[milter]\nsocket = \"inet:8891@127.0.0.1\"\n",
         [](Config& c) { c.milter_socket = "inet:8891@127.0.0.1"; }},
        {"milter.reinject", "[milter]\nreinject = \"lmtp:unix:/run/dovecot/lmtp\"\n",
         [](Config& c) { c.milter_reinject = "lmtp:unix:/run/dovecot/lmtp"; }},
        {"milter.on_error", "[milter]\non_error = \"accept\"\n", [](Config& c) { c.milter_on_error = "accept"; }},
        {"outbound.route", "[outbound]\nroute = \"ses\"\n", [](Config& c) { c.outbound_route = "ses"; }},
        {"srs.domain", "[srs]\ndomain = \"Fwd.Example.com\"\n", [](Config& c) { c.srs_domain = "fwd.example.com"; }},
        {"srs.secret_file", "[srs]\nsecret_file = \"/etc/postsrsd.secret\"\n",
         [](Config& c) { c.srs_secret_file = "/etc/postsrsd.secret"; }},
        {"aws.region", "[aws]\nregion = \"eu-central-1\"\n", [](Config& c) { c.aws_region = "eu-central-1"; }},
        {"aws.endpoint", "[aws]\nendpoint = \"http://127.0.0.1:4566\"\n",
         [](Config& c) { c.aws_endpoint = "http://127.0.0.1:4566"; }},
        {"ingest.concurrency", "[ingest]\nconcurrency = 1\n", [](Config& c) { c.ingest_concurrency = 1; }},
        {"ingest.deliver_to", "[ingest]\ndeliver_to = \"lmtp:[::1]:24\"\n",
         [](Config& c) { c.ingest_deliver_to = "lmtp:[::1]:24"; }},
        {"ingest.delete_blocked", "[ingest]\ndelete_blocked = false\n",
         [](Config& c) { c.ingest_delete_blocked = false; }},
        {"ingest.max_message_bytes", "[ingest]\nmax_message_bytes = 1048576\n",
         [](Config& c) { c.ingest_max_message_bytes = 1048576; }},
        {"ingest.retry_seconds", "[ingest]\nretry_seconds = 1\n", [](Config& c) { c.ingest_retry_seconds = 1; }},
        {"aws.ses_endpoint", "[aws]\nses_endpoint = \"http://127.0.0.1:8005\"\n",
         [](Config& c) { c.aws_ses_endpoint = "http://127.0.0.1:8005"; }},
        {"ingest.queue",
         "[[ingest.queue]]\ndomain = \"A.example\"\nurl = \"http://127.0.0.1:3001/q/a\"\n"
         "[[ingest.queue]]\nurl = \"https://sqs.eu-west-1.amazonaws.com/1/b\"\n"
         "domain = \"b.example\"\n",
         [](Config& c) {
             c.ingest_queues = {{"a.example", "http://127.0.0.1:3001/q/a"},
                                {"b.example", "https://sqs.eu-west-1.amazonaws.com/1/b"}};
         }},
        {"http.listen", "[http]\nlisten = \"[::1]:9187\"\n", [](Config& c) { c.http_listen = "[::1]:9187"; }},
        {"http.ingest_listen", "[http]\ningest_listen = \"127.0.0.1:19188\"\n",
         [](Config& c) { c.http_ingest_listen = "127.0.0.1:19188"; }},
        {"daemon.user", "[daemon]\nuser = \"_sesame\"\n", [](Config& c) { c.daemon_user = "_sesame"; }},
        {"daemon.group", "[daemon]\ngroup = \"mail\"\n", [](Config& c) { c.daemon_group = "mail"; }},
        {"log.level", "[log]\nlevel = \"debug\"\n", [](Config& c) { c.log_level = "debug"; }},
        {"log.target", "[log]\ntarget = \"stderr\"\n", [](Config& c) { c.log_target = "stderr"; }},
    };
    return cases;
}

TEST(ConfigParse, EachKey)
{
    for (const KeyCase& tc : key_cases()) {
        SCOPED_TRACE(tc.key);
        Config want = defaults_from("t.conf");
        tc.want(want);
        try {
            Config got = parse(tc.text);
            EXPECT_EQ(got, want) << "input:\n"
                                 << tc.text << "got:\n"
                                 << config_to_toml(got) << "want:\n"
                                 << config_to_toml(want);
        } catch (const ConfigError& e) {
            ADD_FAILURE() << "input:\n" << tc.text << "got error: " << e.what();
        }
    }
}

TEST(ConfigParse, EveryKeyOfTheTableHasACase)
{
    std::set<std::string> covered;
    for (const KeyCase& tc : key_cases()) covered.insert(tc.key);
    for (const KeyInfo& k : config_keys()) {
        if (k.name.rfind("ingest.queue.", 0) == 0) continue;  // fields, covered by ingest.queue
        EXPECT_TRUE(covered.count(k.name)) << "no EachKey case for " << k.name;
    }
}

// Other accepted spellings of the structured values.
TEST(ConfigParse, AcceptedForms)
{
    struct Case {
        std::string text;
        std::function<std::string(const Config&)> got;
        std::string want;
    };
    const std::vector<Case> cases = {
        {"[policy]\nrecipient_delimiter = \"\"\n", [](const Config& c) { return c.recipient_delimiter; }, ""},
        {"[policy]\ndomains = [\"a.example\", \"A.EXAMPLE\", \"localhost\"]\n",
         [](const Config& c) {
             std::string s;
             for (const auto& d : c.policy_domains) s += d + ";";
             return s;
         },
         "a.example;localhost;"},
        {"[policy]\nmax_hops = 1\n", [](const Config& c) { return std::to_string(c.max_hops); }, "1"},
        {"[ingest]\nconcurrency = 1024\n", [](const Config& c) { return std::to_string(c.ingest_concurrency); },
         "1024"},
        {"[milter]\nsocket = \"inet:8891\"\n", [](const Config& c) { return c.milter_socket; }, "inet:8891"},
        {"[milter]\nsocket = \"inet6:8891@::1\"\n", [](const Config& c) { return c.milter_socket; }, "inet6:8891@::1"},
        {"[milter]\nsocket = \"local:/var/spool/postfix/sesame/milter\"\n",
         [](const Config& c) { return c.milter_socket; }, "local:/var/spool/postfix/sesame/milter"},
        {"[milter]\nreinject = \"lmtp:localhost:24\"\n", [](const Config& c) { return c.milter_reinject; },
         "lmtp:localhost:24"},
        {"[outbound]\nroute = \"smtp:[2001:db8::1]:25\"\n", [](const Config& c) { return c.outbound_route; },
         "smtp:[2001:db8::1]:25"},
        {"[outbound]\nroute = \"lmtp:unix:/run/lmtp\"\n", [](const Config& c) { return c.outbound_route; },
         "lmtp:unix:/run/lmtp"},
        {"[http]\nlisten = \"localhost:65535\"\n", [](const Config& c) { return c.http_listen; }, "localhost:65535"},
        {"[ingest]\nqueue = [{domain = \"x.example\", url = \"https://q/1\"}]\n",
         [](const Config& c) {
             return c.ingest_queues.size() == 1 ? c.ingest_queues[0].domain + " " + c.ingest_queues[0].url
                                                : "size " + std::to_string(c.ingest_queues.size());
         },
         "x.example https://q/1"},
        {"# only a comment\n\n[store]   # trailing comment\n", [](const Config& c) { return c.store_backend; },
         "sqlite"},
    };
    for (const Case& tc : cases) {
        try {
            EXPECT_EQ(tc.got(parse(tc.text)), tc.want) << "input:\n" << tc.text;
        } catch (const ConfigError& e) {
            ADD_FAILURE() << "input:\n" << tc.text << "got error: " << e.what();
        }
    }
}

// The example file of DESIGN.md, "Configuration", verbatim.
const char* const kDesignExample = R"toml([store]
backend = "sqlite"                  # or "dynamodb"
sqlite = "/var/lib/sesame/policy.db"
# dynamodb: region, endpoint, table names (defaults: the older workers' names)

[policy]
domains = ["example.com"]           # added to those set with `sesame domain add`
recipient_delimiter = "+"
max_hops = 30
marker_header = "X-Sesame-Processed"

[milter]
socket = "unix:/run/sesame/milter.sock"   # or "inet:8891@127.0.0.1"
reinject = "smtp:127.0.0.1:2525"          # "lmtp:HOST:PORT" or "lmtp:unix:PATH" too

[outbound]
route = "smtp:127.0.0.1:2525"       # external mail: through Postfix, or "ses" (ingest
                                    # only; the milter always hands mail to Postfix)

[srs]
domain = "example.com"
secret_file = "/etc/sesame/srs.secret"

[aws]
region = "us-east-1"
endpoint = ""                       # one override for every AWS service (emulators)

[ingest]
concurrency = 8
deliver_to = "smtp:127.0.0.1:2525"

[[ingest.queue]]
domain = "example.com"
url = "https://sqs.us-east-1.amazonaws.com/123456789012/example-com-inbound"

[http]
listen = "127.0.0.1:9187"           # /metrics, /healthz, /readyz

[log]
level = "info"
target = "syslog"                   # or "stderr"
)toml";

TEST(ConfigParse, DesignExampleIsAccepted)
{
    Config want = defaults_from("DESIGN.md");
    want.policy_domains = {"example.com"};
    want.srs_domain = "example.com";
    want.ingest_queues = {{"example.com", "https://sqs.us-east-1.amazonaws.com/123456789012/example-com-inbound"}};
    try {
        Config got = parse_config(kDesignExample, "DESIGN.md");
        EXPECT_EQ(got, want) << "got:\n" << config_to_toml(got) << "want:\n" << config_to_toml(want);
    } catch (const ConfigError& e) {
        ADD_FAILURE() << "the DESIGN.md example is refused: " << e.what();
    }
}

TEST(ConfigParse, WrittenBackConfigParsesToTheSame)
{
    Config want = defaults_from("t.conf");
    for (const KeyCase& tc : key_cases()) tc.want(want);
    want.marker_header = "X-\"Odd\\Name";  // needs escaping in TOML
    const std::string text = config_to_toml(want);
    try {
        Config got = parse(text);
        EXPECT_EQ(got, want) << "written:\n" << text << "read back:\n" << config_to_toml(got);
    } catch (const ConfigError& e) {
        ADD_FAILURE() << "written:\n" << text << "got error: " << e.what();
    }
    EXPECT_EQ(parse(config_to_toml(Config{})), defaults_from("t.conf"));
}

TEST(ConfigParse, RestartNeeded)
{
    struct Case {
        std::string name;
        std::function<void(Config&)> change;
        std::vector<std::string> want;
    };
    const std::vector<Case> cases = {
        {"nothing", [](Config&) {}, {}},
        {"source only", [](Config& c) { c.source = "other"; }, {}},
        {"reloadable only",
         [](Config& c) {
             c.log_level = "debug";
             c.policy_domains = {"x.example"};
             c.max_hops = 5;
         },
         {}},
        {"socket and queues",
         [](Config& c) {
             c.milter_socket = "inet:1@h";
             c.ingest_queues = {{"a.example", "https://q"}};
             c.log_level = "error";
         },
         {"milter.socket", "ingest.queue"}},
    };
    for (const Case& tc : cases) {
        Config reloaded;
        tc.change(reloaded);
        EXPECT_EQ(restart_needed(Config{}, reloaded), tc.want) << tc.name;
    }
}

}  // namespace
}  // namespace sesame::config
