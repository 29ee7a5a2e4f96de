// config.hpp - the one configuration file read by all three programs.
//
// The file is TOML (DESIGN.md "Configuration"). Every key is declared once
// in a table (name, type, default, bounds, reloadable, doc) in config.cpp;
// parsing, validation, defaults and docs/config.md all come from that
// table, so a key cannot be documented and parsed differently.
//
// load_config() returns a fully defaulted Config or throws ConfigError whose
// what() is one line: "FILE:LINE: reason" (or "FILE: reason" when no line
// applies). Unknown keys are errors: a typo must not silently fall back to a
// default. Config is a plain value; copies are cheap and thread-safe to read.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/engine/snapshot.hpp"

namespace sesame::config {

struct IngestQueue {
    std::string domain;
    std::string url;

    bool operator==(const IngestQueue&) const = default;
};

struct Config {
    std::string source = "(built-in defaults)";  // file it came from

    // [store]
    std::string store_backend = "sqlite";
    std::string store_sqlite = "/var/lib/sesame/policy.db";
    // [store.dynamodb] (empty region/endpoint: those of [aws])
    std::string store_dynamodb_region;
    std::string store_dynamodb_endpoint;
    std::string store_dynamodb_rules_table = "email-rules";
    std::string store_dynamodb_blocked_senders_table = "email-blocked-senders";
    std::string store_dynamodb_outbound_table = "ses-outbound-messages";
    std::string store_dynamodb_reply_state_table = "sesame-reply-state";
    std::string store_dynamodb_policy_table = "sesame-policy";
    std::string store_dynamodb_ingest_state_table = "sesame-ingest-state";
    std::int64_t store_dynamodb_poll_seconds = 5;
    std::int64_t store_dynamodb_refresh_seconds = 300;
    // [policy]
    std::vector<std::string> policy_domains;
    std::string recipient_delimiter = "+";
    std::int64_t max_hops = 30;
    std::string marker_header = "X-Sesame-Processed";
    // [milter]
    std::string milter_socket = "unix:/run/sesame/milter.sock";
    std::string milter_reinject = "smtp:127.0.0.1:2525";
    std::string milter_on_error = "tempfail";  // or "accept"
    // [outbound]
    std::string outbound_route = "smtp:127.0.0.1:2525";
    // [srs]
    std::string srs_domain;
    std::string srs_secret_file = "/etc/sesame/srs.secret";
    // [aws]
    std::string aws_region = "us-east-1";
    std::string aws_endpoint;
    std::string aws_ses_endpoint;  // empty: aws_endpoint
    // [ingest]
    std::int64_t ingest_concurrency = 8;
    std::string ingest_deliver_to = "smtp:127.0.0.1:2525";
    std::vector<IngestQueue> ingest_queues;
    bool ingest_delete_blocked = true;  // false: keep the S3 object of blocked mail
    std::int64_t ingest_max_message_bytes = 41943040;
    std::int64_t ingest_retry_seconds = 30;
    // [http]
    std::string http_listen = "127.0.0.1:9187";         // sesame-milter
    std::string http_ingest_listen = "127.0.0.1:9188";  // sesame-ingest
    // [daemon]
    std::string daemon_user = "sesame";
    std::string daemon_group = "sesame";
    // [log]
    std::string log_level = "info";
    std::string log_target = "syslog";

    bool operator==(const Config&) const = default;
};

class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The default path: $SESAME_CONFIG, else /etc/sesame/sesame.conf.
std::string default_config_path();

// Reads and validates PATH. When REQUIRED is false and PATH does not exist,
// returns the built-in defaults (a fresh host with no file works).
Config load_config(const std::string& path, bool required = true);

// Parses TEXT as if read from a file named NAME.
Config parse_config(const std::string& text, const std::string& name);

// The [policy] keys, as the engine takes them.
engine::PolicySettings policy_settings(const Config& c);

// docs/config.md, rendered from the key table.
std::string config_reference_markdown();

// CONFIG written back as a TOML file, every key present (an empty [[ingest.queue]]
// list as a commented example); parse_config() of the result gives CONFIG again.
std::string config_to_toml(const Config& config);

// One row of the key table, as docs/config.md shows it.
struct KeyInfo {
    std::string name;          // "policy.max_hops"; "ingest.queue.url" for a field of a
                               // table in an array of tables
    std::string type;          // "string", "integer", "boolean", "array of strings", ...
    std::string default_toml;  // the default written as TOML: "30", "\"info\"", "[]"
    bool reloadable = false;   // takes effect on SIGHUP; false: needs a restart
    std::string doc;           // one line
};

// Every key of the table, in the order docs/config.md lists them.
std::vector<KeyInfo> config_keys();

// Names of the keys that differ between RUNNING and RELOADED and are not
// SIGHUP-reloadable: a daemon reloading logs them and keeps running with the old values.
std::vector<std::string> restart_needed(const Config& running, const Config& reloaded);

}  // namespace sesame::config
