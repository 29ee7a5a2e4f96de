// config.cpp - the key table of the configuration file, and everything made from it.
//
// keys() below is the only place a configuration key is declared: its name,
// where it is stored in Config, whether SIGHUP reloads it, its one-line doc and
// its checks (allowed words, integer bounds, or a check function that may also
// normalise the value, e.g. lower-case a domain). The walker, the defaults (read
// back through the member pointers from a default Config), docs/config.md and
// restart_needed() all iterate over that table. The file is parsed with toml11.
//
// Thread safety: no mutable global state; the table is a function-local static
// built once. Failure: every problem becomes one ConfigError "FILE:LINE: reason";
// toml11's and the standard library's exceptions never escape. When a file holds
// several problems, the one on the lowest line is reported.
#include "policy/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string_view>
#include <system_error>
#include <toml.hpp>
#include <type_traits>
#include <utility>
#include <variant>

namespace sesame::config {
namespace {

// ---------------------------------------------------------------------------
// Small string helpers.

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}
char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

// A string as a TOML basic string: "..." with the necessary escapes.
std::string quote(std::string_view s)
{
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

// ---------------------------------------------------------------------------
// Checks of single string values. Each returns "" when VALUE is acceptable, else
// the reason (the caller prefixes the key name). A check may normalise VALUE.

using Check = std::string (*)(std::string& value);

std::string check_not_empty(std::string& v)
{
    return v.empty() ? "must not be empty" : "";
}

// A DNS name in A-label form, lower-cased in place.
std::string check_domain(std::string& v)
{
    const std::string shown = quote(v);
    if (v.empty()) return "empty string is not a domain name";
    if (v.front() == '@') return shown + " is not a domain name (leave out the @)";
    std::string lower;
    for (char c : v) {
        if (static_cast<unsigned char>(c) >= 0x80)
            return shown + " is not a domain name (write an IDN domain in its xn-- form)";
        lower += to_lower(c);
    }
    if (lower.size() > 253) return shown + " is not a domain name (longer than 253 characters)";
    std::size_t start = 0;
    while (true) {
        std::size_t dot = lower.find('.', start);
        std::string_view label =
            std::string_view(lower).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }))
            return shown + " is not a domain name";
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    v = lower;
    return "";
}

std::string check_optional_domain(std::string& v)
{
    return v.empty() ? "" : check_domain(v);
}

// Postfix's recipient_delimiter: a set of characters, each of which may start the
// extension of a local part. Only punctuation that is allowed unquoted in a local part.
std::string check_delimiter(std::string& v)
{
    static constexpr std::string_view allowed = "!#$%&'*+-/=?^_`{|}~.";
    if (v.size() > 8) return quote(v) + " is too long (at most 8 delimiter characters)";
    for (char c : v) {
        if (allowed.find(c) == std::string_view::npos)
            return quote(std::string(1, c)) +
                   " cannot be a delimiter (use punctuation allowed in a local part, such as "
                   "\"+\" or \"-\")";
    }
    return "";
}

// RFC 5322 field-name: one or more printable US-ASCII characters except the colon.
std::string check_header_name(std::string& v)
{
    bool ok = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= 33 && c <= 126 && c != ':'; });
    return ok ? "" : quote(v) + " is not a header field name (printable ASCII, no space or colon)";
}

bool valid_port(std::string_view s)
{
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) return false;
    long port = std::strtol(std::string(s).c_str(), nullptr, 10);
    return port >= 1 && port <= 65535;
}

// A host name, an IPv4 address, or an IPv6 address in brackets (or, with
// UNBRACKETED_V6, without: libmilter's inet6:PORT@::1).
bool valid_host(std::string_view s, bool unbracketed_v6 = false)
{
    if (s.empty()) return false;
    if (s.front() == '[') {
        if (s.size() < 3 || s.back() != ']') return false;
        s = s.substr(1, s.size() - 2);
        return std::all_of(s.begin(), s.end(), [](char c) {
            return is_digit(c) || (to_lower(c) >= 'a' && to_lower(c) <= 'f') || c == ':' || c == '.';
        });
    }
    return std::all_of(s.begin(), s.end(), [unbracketed_v6](char c) {
        return is_alnum(c) || c == '.' || c == '-' || c == '_' || (unbracketed_v6 && c == ':');
    });
}

// HOST:PORT, the host possibly a bracketed IPv6 address.
bool valid_host_port(std::string_view s)
{
    std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string_view host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos && host.front() != '[') return false;
    return valid_host(host) && valid_port(s.substr(colon + 1));
}

bool valid_unix_path(std::string_view s)
{
    return s.size() > 1 && s.front() == '/';
}

// Where mail is handed to Postfix: smtp:HOST:PORT, lmtp:HOST:PORT, lmtp:unix:/PATH.
bool valid_delivery(std::string_view s)
{
    if (starts_with(s, "lmtp:unix:")) return valid_unix_path(s.substr(10));
    if (starts_with(s, "smtp:")) return valid_host_port(s.substr(5));
    if (starts_with(s, "lmtp:")) return valid_host_port(s.substr(5));
    return false;
}

std::string check_delivery(std::string& v)
{
    if (valid_delivery(v)) return "";
    return quote(v) + R"( is not "smtp:HOST:PORT", "lmtp:HOST:PORT" or "lmtp:unix:/PATH")";
}

std::string check_route(std::string& v)
{
    if (v == "ses" || valid_delivery(v)) return "";
    return quote(v) + R"( is not "smtp:HOST:PORT", "lmtp:HOST:PORT", "lmtp:unix:/PATH" or "ses")";
}

// libmilter's socket syntax (smfi_setconn): unix:/PATH (local:/PATH), inet:PORT[@HOST],
// inet6:PORT[@HOST].
std::string check_socket(std::string& v)
{
    bool ok = false;
    std::string_view s = v;
    if (starts_with(s, "unix:") || starts_with(s, "local:")) {
        ok = valid_unix_path(s.substr(s.find(':') + 1));
    } else if (starts_with(s, "inet:") || starts_with(s, "inet6:")) {
        bool v6 = starts_with(s, "inet6:");
        std::string_view rest = s.substr(s.find(':') + 1);
        std::size_t at = rest.find('@');
        ok = valid_port(rest.substr(0, at)) && (at == std::string_view::npos || valid_host(rest.substr(at + 1), v6));
    }
    return ok ? "" : quote(v) + R"( is not "unix:/PATH", "inet:PORT@HOST" or "inet:PORT")";
}

std::string check_listen(std::string& v)
{
    return valid_host_port(v) ? "" : quote(v) + " is not HOST:PORT";
}

// A user or group name as useradd(8) takes it.
std::string check_name(std::string& v)
{
    bool ok = !v.empty() && v.size() <= 32 && v[0] != '-';
    for (char c : v) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
    return ok ? "" : quote(v) + " is not a user or group name";
}

std::string check_url(std::string& v)
{
    std::string_view s = v;
    std::string_view rest = starts_with(s, "https://")  ? s.substr(8)
                            : starts_with(s, "http://") ? s.substr(7)
                                                        : std::string_view{};
    bool ok = !rest.empty() && rest.front() != '/' &&
              std::none_of(s.begin(), s.end(), [](char c) { return c <= ' ' || c == 0x7f; });
    return ok ? "" : quote(v) + " is not an http:// or https:// URL";
}

std::string check_optional_url(std::string& v)
{
    return v.empty() ? "" : check_url(v);
}

std::string check_region(std::string& v)
{
    bool ok = !v.empty() &&
              std::all_of(v.begin(), v.end(), [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-'; });
    return ok ? "" : quote(v) + " is not an AWS region name (such as \"us-east-1\")";
}

std::string check_optional_region(std::string& v)
{
    return v.empty() ? "" : check_region(v);
}

// DynamoDB table names: 3 to 255 of [A-Za-z0-9_.-].
std::string check_table_name(std::string& v)
{
    bool ok = v.size() >= 3 && v.size() <= 255 &&
              std::all_of(v.begin(), v.end(), [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
    return ok ? "" : quote(v) + " is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)";
}

// ---------------------------------------------------------------------------
// The key table.

// One key of each table of an array of tables ([[ingest.queue]]); all are required strings.
struct Field {
    std::string_view name;
    std::string IngestQueue::*member;
    Check check;
    std::string_view example;  // shown in the example file
    std::string_view doc;
};

// Where a key is stored; the alternative also gives the key's TOML type.
using Member = std::variant<std::string Config::*, std::int64_t Config::*, bool Config::*,
                            std::vector<std::string> Config::*, std::vector<IngestQueue> Config::*>;

struct Key {
    std::string_view name;  // "section.key"; the section may itself be dotted
    Member member;
    bool reloadable;                          // SIGHUP applies it; else restart needed
    std::string_view doc;                     // one line of markdown, no '|'
    Check check = nullptr;                    // strings and each string of an array
    std::vector<std::string_view> allowed{};  // enumerated strings
    std::int64_t min = 0, max = 0;            // integers
    std::vector<Field> fields{};              // arrays of tables
};

constexpr bool reload = true;
constexpr bool restart = false;

const std::vector<Key>& keys()
{
    static const std::vector<Key> table = {
        {.name = "store.backend",
         .member = &Config::store_backend,
         .reloadable = restart,
         .doc = "Where the policy is kept: a local sqlite file or DynamoDB tables.",
         .allowed = {"sqlite", "dynamodb"}},
        {.name = "store.sqlite",
         .member = &Config::store_sqlite,
         .reloadable = restart,
         .doc = "Path of the sqlite database, when `store.backend` is `sqlite`.",
         .check = check_not_empty},
        {.name = "store.dynamodb.region",
         .member = &Config::store_dynamodb_region,
         .reloadable = restart,
         .doc = "AWS region of the DynamoDB tables (empty: `aws.region`).",
         .check = check_optional_region},
        {.name = "store.dynamodb.endpoint",
         .member = &Config::store_dynamodb_endpoint,
         .reloadable = restart,
         .doc = "DynamoDB endpoint URL (empty: `aws.endpoint`, else the region's own).",
         .check = check_optional_url},
        {.name = "store.dynamodb.rules_table",
         .member = &Config::store_dynamodb_rules_table,
         .reloadable = restart,
         .doc = "DynamoDB table of forward and out-of-office rules.",
         .check = check_table_name},
        {.name = "store.dynamodb.blocked_senders_table",
         .member = &Config::store_dynamodb_blocked_senders_table,
         .reloadable = restart,
         .doc = "DynamoDB table of blocked sender patterns.",
         .check = check_table_name},
        {.name = "store.dynamodb.outbound_table",
         .member = &Config::store_dynamodb_outbound_table,
         .reloadable = restart,
         .doc = "DynamoDB table of message ids sent through SES, used to rewrite bounces.",
         .check = check_table_name},
        {.name = "store.dynamodb.reply_state_table",
         .member = &Config::store_dynamodb_reply_state_table,
         .reloadable = restart,
         .doc = "DynamoDB table of out-of-office reply state (who was answered, when).",
         .check = check_table_name},
        {.name = "store.dynamodb.policy_table",
         .member = &Config::store_dynamodb_policy_table,
         .reloadable = restart,
         .doc = "DynamoDB table of what the older workers' tables have no place for: local domains, "
                "the blocklist patterns Sesame adds, and the policy version the daemons poll.",
         .check = check_table_name},
        {.name = "store.dynamodb.ingest_state_table",
         .member = &Config::store_dynamodb_ingest_state_table,
         .reloadable = restart,
         .doc = "DynamoDB table of sesame-ingest's per-recipient delivery state, shared by every "
                "ingest daemon.",
         .check = check_table_name},
        {.name = "store.dynamodb.poll_seconds",
         .member = &Config::store_dynamodb_poll_seconds,
         .reloadable = restart,
         .doc = "How often a daemon reads the policy version item (one GetItem) to notice changes "
                "made with `sesame`.",
         .min = 1,
         .max = 3600},
        {.name = "store.dynamodb.refresh_seconds",
         .member = &Config::store_dynamodb_refresh_seconds,
         .reloadable = restart,
         .doc = "How often a daemon reloads the whole policy even when the version did not move "
                "(changes made by other tools); 0: never.",
         .min = 0,
         .max = 86400},

        {.name = "policy.domains",
         .member = &Config::policy_domains,
         .reloadable = reload,
         .doc = "Local domains, added to those set with `sesame domain add`; lower-cased.",
         .check = check_domain},
        {.name = "policy.recipient_delimiter",
         .member = &Config::recipient_delimiter,
         .reloadable = reload,
         .doc = "Characters that start an address extension (`user+ext`), as Postfix's "
                "`recipient_delimiter`; empty: none.",
         .check = check_delimiter},
        {.name = "policy.max_hops",
         .member = &Config::max_hops,
         .reloadable = reload,
         .doc = "A message with more `Received:` headers than this is refused `554 5.4.6`.",
         .min = 1,
         .max = 1000},
        {.name = "policy.marker_header",
         .member = &Config::marker_header,
         .reloadable = reload,
         .doc = "Header put on every message Sesame generates or forwards; a message "
                "carrying it (or `X-SES-Worker-Processed`) triggers no forward or reply.",
         .check = check_header_name},

        {.name = "milter.socket",
         .member = &Config::milter_socket,
         .reloadable = restart,
         .doc = "Where sesame-milter listens (`smtpd_milters` points here): `unix:/PATH`, "
                "`inet:PORT@HOST` or `inet:PORT`.",
         .check = check_socket},
        {.name = "milter.reinject",
         .member = &Config::milter_reinject,
         .reloadable = restart,
         .doc = "Where the milter hands the mail it generates (forwards, replies): "
                "`smtp:HOST:PORT`, `lmtp:HOST:PORT` or `lmtp:unix:/PATH`.",
         .check = check_delivery},
        {.name = "milter.on_error",
         .member = &Config::milter_on_error,
         .reloadable = reload,
         .doc = "The milter's answer when Sesame itself fails (store error, bug): a "
                "temporary failure the sender retries, or accept (fail open).",
         .allowed = {"tempfail", "accept"}},

        {.name = "outbound.route",
         .member = &Config::outbound_route,
         .reloadable = restart,
         .doc = "How external mail leaves: through Postfix (`smtp:HOST:PORT`, "
                "`lmtp:HOST:PORT`, `lmtp:unix:/PATH`) or `ses` (ingest only; the milter "
                "always hands mail to Postfix).",
         .check = check_route},

        {.name = "srs.domain",
         .member = &Config::srs_domain,
         .reloadable = restart,
         .doc = "Domain of the SRS envelope senders of external `redirect` forwards; its "
                "mail must reach Sesame so that bounces can be reversed.",
         .check = check_optional_domain},
        {.name = "srs.secret_file",
         .member = &Config::srs_secret_file,
         .reloadable = restart,
         .doc = "File holding the SRS HMAC secret (as postsrsd's); readable by the sesame "
                "user only.",
         .check = check_not_empty},

        {.name = "aws.region",
         .member = &Config::aws_region,
         .reloadable = restart,
         .doc = "AWS region of SQS, S3 and SES (and of DynamoDB unless "
                "`store.dynamodb.region` is set).",
         .check = check_region},
        {.name = "aws.endpoint",
         .member = &Config::aws_endpoint,
         .reloadable = restart,
         .doc = "One endpoint URL for every AWS service, e.g. local emulators (empty: "
                "AWS's own).",
         .check = check_optional_url},

        {.name = "aws.ses_endpoint",
         .member = &Config::aws_ses_endpoint,
         .reloadable = restart,
         .doc = "Endpoint URL for SES alone, when it runs apart from the others (an SES "
                "emulator); empty: `aws.endpoint`.",
         .check = check_optional_url},

        {.name = "ingest.concurrency",
         .member = &Config::ingest_concurrency,
         .reloadable = restart,
         .doc = "Messages sesame-ingest processes at once.",
         .min = 1,
         .max = 1024},
        {.name = "ingest.deliver_to",
         .member = &Config::ingest_deliver_to,
         .reloadable = restart,
         .doc = "Where sesame-ingest hands accepted mail to Postfix: `smtp:HOST:PORT`, "
                "`lmtp:HOST:PORT` or `lmtp:unix:/PATH`.",
         .check = check_delivery},
        {.name = "ingest.delete_blocked",
         .member = &Config::ingest_delete_blocked,
         .reloadable = restart,
         .doc = "Delete the S3 object of a message blocked for every recipient (after "
                "marking it `status=blocked`); `false` keeps it."},
        {.name = "ingest.max_message_bytes",
         .member = &Config::ingest_max_message_bytes,
         .reloadable = restart,
         .doc = "Largest S3 object sesame-ingest fetches; a larger one is left in the queue "
                "for its dead-letter queue (SES accepts up to 40 MB).",
         .min = 1024,
         .max = 1073741824},
        {.name = "ingest.retry_seconds",
         .member = &Config::ingest_retry_seconds,
         .reloadable = restart,
         .doc = "First visibility timeout of a message that failed temporarily; it doubles "
                "with each receive, up to 15 minutes.",
         .min = 1,
         .max = 900},
        {.name = "ingest.queue",
         .member = &Config::ingest_queues,
         .reloadable = restart,
         .doc = "One `[[ingest.queue]]` table per SES inbound SQS queue, each polled by "
                "its own poller.",
         .fields = {{.name = "domain",
                     .member = &IngestQueue::domain,
                     .check = check_domain,
                     .example = "example.com",
                     .doc = "The domain the queue receives mail for; other recipients in "
                            "its notifications are dropped. Lower-cased."},
                    {.name = "url",
                     .member = &IngestQueue::url,
                     .check = check_url,
                     .example = "https://sqs.us-east-1.amazonaws.com/123456789012/"
                                "example-com-inbound",
                     .doc = "The SQS queue URL."}}},

        {.name = "http.listen",
         .member = &Config::http_listen,
         .reloadable = restart,
         .doc = "`HOST:PORT` of sesame-milter's `/metrics`, `/healthz` and `/readyz` (keep it on "
                "loopback).",
         .check = check_listen},
        {.name = "http.ingest_listen",
         .member = &Config::http_ingest_listen,
         .reloadable = restart,
         .doc = "`HOST:PORT` of sesame-ingest's `/metrics`, `/healthz` and `/readyz`: another port, "
                "so both daemons can run on one host.",
         .check = check_listen},

        {.name = "daemon.user",
         .member = &Config::daemon_user,
         .reloadable = restart,
         .doc = "The user a daemon started as root becomes once its sockets are open; it refuses "
                "to start when the user does not exist. `\"root\"` keeps root (not recommended).",
         .check = check_name},
        {.name = "daemon.group",
         .member = &Config::daemon_group,
         .reloadable = restart,
         .doc = "The group it becomes (its only group).",
         .check = check_name},

        {.name = "log.level",
         .member = &Config::log_level,
         .reloadable = reload,
         .doc = "Lowest severity logged.",
         .allowed = {"debug", "info", "notice", "warning", "error"}},
        {.name = "log.target",
         .member = &Config::log_target,
         .reloadable = restart,
         .doc = "Where logs go: syslog (facility mail) or standard error (the journal, "
                "under systemd).",
         .allowed = {"syslog", "stderr"}},
    };
    return table;
}

std::string_view section_of(std::string_view name)
{
    return name.substr(0, name.rfind('.'));
}

const Key* find_key(std::string_view name)
{
    for (const Key& k : keys())
        if (k.name == name) return &k;
    return nullptr;
}

// True when NAME is a table of the file: "store", "store.dynamodb", ...
bool is_section(std::string_view name)
{
    for (const Key& k : keys()) {
        std::string_view n = k.name;
        if (n.size() > name.size() && starts_with(n, name) && n[name.size()] == '.') return true;
    }
    return false;
}

std::string type_name(const Member& m)
{
    switch (m.index()) {
        case 0:
            return "string";
        case 1:
            return "integer";
        case 2:
            return "boolean";
        case 3:
            return "array of strings";
        default:
            return "array of tables";
    }
}

// The value of KEY in CONFIG, written as TOML.
std::string to_toml(const Key& key, const Config& config)
{
    return std::visit(
        [&](auto member) -> std::string {
            const auto& v = config.*member;
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
                return quote(v);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                return std::to_string(v);
            } else if constexpr (std::is_same_v<T, bool>) {
                return v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                std::string out = "[";
                for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quote(v[i]);
                return out + "]";
            } else {
                std::string out = "[";
                for (std::size_t i = 0; i < v.size(); ++i) {
                    out += i ? ", {" : "{";
                    for (std::size_t f = 0; f < key.fields.size(); ++f)
                        out += (f ? ", " : "") + std::string(key.fields[f].name) + " = " +
                               quote(v[i].*(key.fields[f].member));
                    out += "}";
                }
                return out + "]";
            }
        },
        key.member);
}

bool same_value(const Key& key, const Config& a, const Config& b)
{
    return std::visit([&](auto member) { return a.*member == b.*member; }, key.member);
}

// ---------------------------------------------------------------------------
// Parsing: walk the TOML tree, look each key up in the table, collect errors.

struct Problem {
    std::uint_least32_t line;
    std::string reason;
};

class Problems {
  public:
    void add(std::uint_least32_t line, std::string reason) { list_.push_back({line, std::move(reason)}); }
    void add(const toml::value& at, std::string reason) { add(at.location().line(), reason); }
    // Throws the problem on the lowest line, if any.
    void raise(const std::string& file) const
    {
        if (list_.empty()) return;
        const Problem& first = *std::min_element(list_.begin(), list_.end(), [](const Problem& a, const Problem& b) {
            return a.line != b.line ? a.line < b.line : a.reason < b.reason;
        });
        throw ConfigError(file + ":" + std::to_string(first.line) + ": " + first.reason);
    }

  private:
    std::vector<Problem> list_;
};

std::string a_type(const toml::value& v)
{
    switch (v.type()) {
        case toml::value_t::boolean:
            return "a boolean";
        case toml::value_t::integer:
            return "an integer";
        case toml::value_t::floating:
            return "a float";
        case toml::value_t::string:
            return "a string";
        case toml::value_t::offset_datetime:
        case toml::value_t::local_datetime:
            return "a date-time";
        case toml::value_t::local_date:
            return "a date";
        case toml::value_t::local_time:
            return "a time";
        case toml::value_t::array:
            return "an array";
        case toml::value_t::table:
            return "a table";
        default:
            return "nothing";
    }
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// " (did you mean "policy.domains"?)" for a near miss or a key in the wrong table.
std::string suggestion(std::string_view unknown)
{
    std::vector<std::string> names;
    for (const Key& k : keys()) {
        names.emplace_back(k.name);
        for (const Field& f : k.fields) names.push_back(std::string(k.name) + "." + std::string(f.name));
    }
    std::string best;
    std::size_t best_distance = 3;
    for (const std::string& n : names) {
        std::size_t d = edit_distance(unknown, n);
        if (d < best_distance && d * 2 < unknown.size()) {
            best = n;
            best_distance = d;
        }
    }
    if (best.empty()) {
        std::string_view last = unknown.substr(unknown.rfind('.') + 1);
        for (const std::string& n : names) {
            if (std::string_view(n).substr(n.rfind('.') + 1) != last) continue;
            if (!best.empty()) return "";  // ambiguous
            best = n;
        }
    }
    return best.empty() ? "" : " (did you mean " + quote(best) + "?)";
}

// Reports NAME (whose value is V) as unknown: each leaf key of an unknown table.
void report_unknown(const std::string& name, const toml::value& v, Problems& problems)
{
    if (v.is_table() && !v.as_table().empty()) {
        for (const auto& [k, child] : v.as_table()) report_unknown(name + "." + k, child, problems);
        return;
    }
    std::string what = v.is_table() ? "unknown table " : "unknown key ";
    problems.add(v, what + quote(name) + suggestion(name));
}

// Checks one string S of KEY against its allowed words and check; normalises S.
bool check_string(const Key& key, std::string& s, const toml::value& at, Problems& problems)
{
    if (!key.allowed.empty() && std::find(key.allowed.begin(), key.allowed.end(), s) == key.allowed.end()) {
        std::string words;
        for (std::string_view w : key.allowed) words += (words.empty() ? "" : ", ") + quote(w);
        problems.add(at, std::string(key.name) + ": " + quote(s) + " is not one of " + words);
        return false;
    }
    if (key.check) {
        std::string reason = key.check(s);
        if (!reason.empty()) {
            problems.add(at, std::string(key.name) + ": " + reason);
            return false;
        }
    }
    return true;
}

std::string expected(std::string_view name, std::string_view what, const toml::value& v)
{
    return std::string(name) + ": expected " + std::string(what) + ", got " + a_type(v);
}

void parse_table_array(const Key& key, std::vector<IngestQueue>& out, const toml::value& v, Problems& problems)
{
    if (!v.is_array()) {
        std::string hint = v.is_table() ? " (write [[" + std::string(key.name) + "]])" : "";
        problems.add(v, expected(key.name, "an array of tables", v) + hint);
        return;
    }
    out.clear();
    for (const toml::value& element : v.as_array()) {
        if (!element.is_table()) {
            problems.add(element, expected(key.name, "a table", element));
            continue;
        }
        IngestQueue entry;
        bool ok = true;
        for (const auto& [k, fv] : element.as_table()) {
            std::string name = std::string(key.name) + "." + k;
            auto field =
                std::find_if(key.fields.begin(), key.fields.end(), [&k = k](const Field& f) { return f.name == k; });
            if (field == key.fields.end()) {
                report_unknown(name, fv, problems);
                ok = false;
            } else if (!fv.is_string()) {
                problems.add(fv, expected(name, "a string", fv));
                ok = false;
            } else {
                std::string s = fv.as_string().str;
                std::string reason = field->check(s);
                if (!reason.empty()) {
                    problems.add(fv, name + ": " + reason);
                    ok = false;
                }
                entry.*(field->member) = s;
            }
        }
        for (const Field& f : key.fields) {
            if (element.as_table().count(std::string(f.name)) == 0) {
                problems.add(element, std::string(key.name) + ": missing key " + quote(f.name));
                ok = false;
            }
        }
        if (!ok) continue;
        for (const IngestQueue& earlier : out) {
            if (earlier.url == entry.url) {
                problems.add(element, std::string(key.name) + ": queue " + quote(entry.url) + " is listed twice");
                ok = false;
            }
        }
        if (ok) out.push_back(entry);
    }
}

void parse_key(const Key& key, const toml::value& v, Config& config, Problems& problems)
{
    if (auto m = std::get_if<std::string Config::*>(&key.member)) {
        if (!v.is_string()) return problems.add(v, expected(key.name, "a string", v));
        std::string s = v.as_string().str;
        if (check_string(key, s, v, problems)) config.*(*m) = s;
    } else if (auto m = std::get_if<std::int64_t Config::*>(&key.member)) {
        if (!v.is_integer()) return problems.add(v, expected(key.name, "an integer", v));
        std::int64_t n = v.as_integer();
        if (n < key.min || n > key.max)
            return problems.add(v, std::string(key.name) + ": " + std::to_string(n) + " is out of range " +
                                       std::to_string(key.min) + ".." + std::to_string(key.max));
        config.*(*m) = n;
    } else if (auto m = std::get_if<bool Config::*>(&key.member)) {
        if (!v.is_boolean()) return problems.add(v, expected(key.name, "true or false", v));
        config.*(*m) = v.as_boolean();
    } else if (auto m = std::get_if<std::vector<std::string> Config::*>(&key.member)) {
        if (!v.is_array()) return problems.add(v, expected(key.name, "an array of strings", v));
        std::vector<std::string> list;
        for (const toml::value& element : v.as_array()) {
            if (!element.is_string()) {
                problems.add(element, expected(key.name, "a string in the array", element));
                continue;
            }
            std::string s = element.as_string().str;
            if (check_string(key, s, element, problems) && std::find(list.begin(), list.end(), s) == list.end())
                list.push_back(s);
        }
        config.*(*m) = list;
    } else if (auto m = std::get_if<std::vector<IngestQueue> Config::*>(&key.member)) {
        parse_table_array(key, config.**m, v, problems);
    }
}

void walk(const toml::value& table, const std::string& prefix, Config& config, Problems& problems)
{
    for (const auto& [k, v] : table.as_table()) {
        std::string name = prefix.empty() ? k : prefix + "." + k;
        if (const Key* key = find_key(name)) {
            parse_key(*key, v, config, problems);
        } else if (is_section(name)) {
            if (v.is_table())
                walk(v, name, config, problems);
            else
                problems.add(v, expected(name, "a table ([" + name + "])", v));
        } else {
            report_unknown(name, v, problems);
        }
    }
}

// toml11's what() is several lines of ASCII art; keep the first line's message.
std::string condense(const std::string& what)
{
    std::string text;
    for (std::size_t i = 0; i < what.size(); ++i) {
        if (what[i] == '\x1b') {  // ANSI colour sequence
            while (i < what.size() && !is_alpha(what[i])) ++i;
            continue;
        }
        text += what[i];
    }
    std::string line = text.substr(0, text.find('\n'));
    if (starts_with(line, "[error]")) line.erase(0, 7);
    line.erase(0, line.find_first_not_of(' '));
    if (starts_with(line, "toml::")) {
        std::size_t colon = line.find(": ");
        if (colon != std::string::npos) line.erase(0, colon + 2);
    }
    while (!line.empty() && (line.back() == '.' || line.back() == ' ')) line.pop_back();
    if (line.find("unknown value appeared") != std::string::npos) line += " (strings need double quotes)";
    for (std::string_view what : {"value", "table"}) {  // `value ("x") already exists`
        const std::string head = std::string(what) + " (\"", tail = "\") already exists";
        if (starts_with(line, head) && line.size() > head.size() + tail.size() &&
            line.compare(line.size() - tail.size(), tail.size(), tail) == 0) {
            std::string name = line.substr(head.size(), line.size() - head.size() - tail.size());
            line = (what == "table" ? "table [" + name + "]" : "key " + quote(name)) + " is defined twice";
        }
    }
    return line.empty() ? "invalid TOML" : line;
}

// The line of TEXT's first byte that is not part of a UTF-8 character, or 0
// when there is none. A TOML file must be UTF-8, and this is checked before
// toml11 sees the text: toml11 3.7 reads past the end of its buffer on a
// literal string holding such a byte (upstream issue #199, fixed in 3.8).
std::size_t first_non_utf8_line(std::string_view text)
{
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (c == '\n') ++line;
            ++i;
            continue;
        }
        // A lead byte (C2..F4), its continuation bytes, and the smallest code
        // point that needs that many (anything less is an overlong form).
        if (c < 0xC2 || c > 0xF4) return line;
        const std::size_t more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
        const char32_t least = more == 1 ? 0x80 : more == 2 ? 0x800 : 0x10000;
        char32_t cp = c & (0x3F >> more);
        if (text.size() - i <= more) return line;
        for (std::size_t k = 1; k <= more; ++k) {
            const auto d = static_cast<unsigned char>(text[i + k]);
            if ((d & 0xC0) != 0x80) return line;
            cp = (cp << 6) | (d & 0x3F);
        }
        if (cp < least || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return line;
        i += more + 1;
    }
    return 0;
}

}  // namespace

std::string default_config_path()
{
    const char* env = std::getenv("SESAME_CONFIG");
    return env && *env ? env : "/etc/sesame/sesame.conf";
}

Config parse_config(const std::string& text, const std::string& name)
{
    Config config;
    config.source = name;
    if (const std::size_t line = first_non_utf8_line(text))
        throw ConfigError(name + ":" + std::to_string(line) + ": not UTF-8 (a TOML file must be UTF-8)");
    Problems problems;
    try {
        std::istringstream in(text);
        const toml::value root = toml::parse(in, name);
        walk(root, "", config, problems);
    } catch (const toml::exception& e) {
        throw ConfigError(name + ":" + std::to_string(e.location().line()) + ": syntax error: " + condense(e.what()));
    } catch (const ConfigError&) {
        throw;
    } catch (const std::exception& e) {
        throw ConfigError(name + ": " + condense(e.what()));
    }
    problems.raise(name);
    return config;
}

Config load_config(const std::string& path, bool required)
{
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    auto cannot_read = [&path](int err) {
        return ConfigError(path + ": cannot read: " + std::error_code(err, std::generic_category()).message());
    };
    if (!file) {
        int err = errno;
        if (err == ENOENT && !required) return Config{};
        throw cannot_read(err);
    }
    std::string text;
    char buf[8192];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) text.append(buf, n);
    if (std::ferror(file.get())) throw cannot_read(errno);
    return parse_config(text, path);
}

std::vector<KeyInfo> config_keys()
{
    const Config defaults;
    std::vector<KeyInfo> out;
    for (const Key& key : keys()) {
        out.push_back({std::string(key.name), type_name(key.member), to_toml(key, defaults), key.reloadable,
                       std::string(key.doc)});
        for (const Field& f : key.fields)
            out.push_back({std::string(key.name) + "." + std::string(f.name), "string", "(required)", key.reloadable,
                           std::string(f.doc)});
    }
    return out;
}

std::vector<std::string> restart_needed(const Config& running, const Config& reloaded)
{
    std::vector<std::string> out;
    for (const Key& key : keys())
        if (!key.reloadable && !same_value(key, running, reloaded)) out.emplace_back(key.name);
    return out;
}

std::string config_to_toml(const Config& config)
{
    std::ostringstream out;
    std::string section;
    std::vector<const Key*> table_arrays;  // [[...]] must follow their section's plain keys
    auto flush_table_arrays = [&] {
        for (const Key* key : table_arrays) {
            const auto& entries = config.*std::get<std::vector<IngestQueue> Config::*>(key->member);
            std::string doc(key->doc);
            doc.erase(std::remove(doc.begin(), doc.end(), '`'), doc.end());
            out << "\n# " << doc << (entries.empty() ? " For example:" : "") << "\n";
            if (entries.empty()) {
                out << "# [[" << key->name << "]]\n";
                for (const Field& f : key->fields) out << "# " << f.name << " = " << quote(f.example) << "\n";
            }
            for (std::size_t i = 0; i < entries.size(); ++i) {
                out << (i ? "\n" : "") << "[[" << key->name << "]]\n";
                for (const Field& f : key->fields) out << f.name << " = " << quote(entries[i].*(f.member)) << "\n";
            }
        }
        table_arrays.clear();
    };
    for (const Key& key : keys()) {
        std::string_view sec = section_of(key.name);
        if (sec != section) {
            flush_table_arrays();
            out << (section.empty() ? "" : "\n") << "[" << sec << "]\n";
            section = sec;
        }
        if (std::holds_alternative<std::vector<IngestQueue> Config::*>(key.member))
            table_arrays.push_back(&key);
        else
            out << key.name.substr(sec.size() + 1) << " = " << to_toml(key, config) << "\n";
    }
    flush_table_arrays();
    return out.str();
}

std::string config_reference_markdown()
{
    const Config defaults;
    std::ostringstream md;
    md << "# Configuration reference\n"
          "\n"
          "<!-- Generated from the key table in policy/config/config.cpp by "
          "sesame-config-doc; do not edit.\n"
          "     Regenerate with: cmake --build build --target config-doc -->\n"
          "\n"
          "`sesame`, `sesame-milter` and `sesame-ingest` read one TOML file: the one named "
          "with `--config FILE`,\n"
          "else `$SESAME_CONFIG` when it is set and not empty, else "
          "`/etc/sesame/sesame.conf`. Every key has a\n"
          "default that works on a single host; when the default file does not exist, "
          "all defaults apply.\n"
          "\n"
          "Unknown keys and tables are errors: a misspelt key is refused, not silently "
          "replaced by its default.\n"
          "`sesame check-config` (and `sesame-milter --check-config`, `sesame-ingest "
          "--check-config`) validates\n"
          "the file and prints `configuration OK`, or the file, line and reason, for "
          "example:\n"
          "\n"
          "```\n"
          "/etc/sesame/sesame.conf:7: policy.max_hops: expected an integer, got a string\n"
          "```\n"
          "\n"
          "*Reload* `yes`: a daemon applies a new value on SIGHUP. `restart`: the value is "
          "read at start-up\n"
          "only; a daemon reloading keeps the old one and logs that a restart is needed.\n";

    auto cell = [](std::string s) {
        std::string out;
        for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
        return out;
    };
    std::string section;
    for (const Key& key : keys()) {
        std::string_view sec = section_of(key.name);
        if (sec != section) {
            section = sec;
            md << "\n## [" << section << "]\n\n"
               << "| Key | Type | Default | Reload | Description |\n"
               << "|---|---|---|---|---|\n";
        }
        std::string doc(key.doc);
        if (!key.allowed.empty()) {
            doc += " One of";
            for (std::size_t i = 0; i < key.allowed.size(); ++i)
                doc += std::string(i ? ", " : " ") + "`" + std::string(key.allowed[i]) + "`";
            doc += ".";
        }
        if (std::holds_alternative<std::int64_t Config::*>(key.member))
            doc += " Range " + std::to_string(key.min) + " to " + std::to_string(key.max) + ".";
        const char* reload_word = key.reloadable ? "yes" : "restart";
        md << "| `" << key.name << "` | " << type_name(key.member) << " | `" << to_toml(key, defaults) << "` | "
           << reload_word << " | " << cell(doc) << " |\n";
        for (const Field& f : key.fields)
            md << "| `" << key.name << "." << f.name << "` | string | (required) | " << reload_word << " | "
               << cell(std::string(f.doc)) << " |\n";
    }

    md << "\n## Example\n\n"
          "Every key at its default, generated from the same table:\n\n"
          "```toml\n"
       << config_to_toml(defaults);
    md << "```\n";
    return md.str();
}

engine::PolicySettings policy_settings(const Config& c)
{
    engine::PolicySettings s;
    s.domains = c.policy_domains;
    s.recipient_delimiter = c.recipient_delimiter;
    s.max_hops = c.max_hops;
    s.marker_header = c.marker_header;
    return s;
}

}  // namespace sesame::config
