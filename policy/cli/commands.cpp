// commands.cpp - the subcommands of `sesame`, over the store and the engine.
//
// Each subcommand validates all of its input first (addresses, keys,
// patterns, dates, files), then opens the store and makes its change in
// one statement or transaction. A bad argument is a UsageError; a store or
// configuration failure is a StoreError or ConfigError; all three end as
// one line on stderr and exit status 2. `policy test` opens the store read-
// only and writes nothing, not even reply state.
#include "policy/cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "policy/cli/render.hpp"
#include "policy/config/config.hpp"
#include "policy/engine/address.hpp"
#include "policy/engine/evaluate.hpp"
#include "policy/engine/glob.hpp"
#include "policy/mime/message_reader.hpp"
#include "policy/store/backend.hpp"

namespace sesame::cli {

namespace {

using engine::Time;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum Exit { kOk = 0, kNothing = 1, kBad = 2, kBug = 3 };

std::string key_arg(const std::string& text)
{
    std::string why;
    auto k = engine::normalize_key(text, &why);
    if (!k) throw UsageError(why);
    return *k;
}

std::string address_arg(const std::string& text, const char* what)
{
    std::string why;
    auto a = engine::parse_address(text, &why);
    if (!a) throw UsageError(std::string(what) + ": " + why);
    return a->full();
}

std::string domain_arg(const std::string& text)
{
    std::string why;
    auto d = engine::normalize_domain(text, &why);
    if (!d) throw UsageError("domain \"" + text + "\": " + why);
    return *d;
}

std::string pattern_arg(const std::string& text)
{
    if (auto why = engine::glob_error(text)) throw UsageError("pattern \"" + text + "\": " + *why);
    return engine::ascii_lower(text);
}

// Reads FILE, or standard input for "-", whole.
std::string read_input(const std::string& file, std::istream& in)
{
    if (file == "-") return std::string(std::istreambuf_iterator<char>(in), {});
    std::ifstream f(file, std::ios::binary);
    if (!f) throw UsageError(file + ": cannot read: " + std::strerror(errno));
    std::string data((std::istreambuf_iterator<char>(f)), {});
    if (f.bad()) throw UsageError(file + ": read error: " + std::strerror(errno));
    return data;
}

// "YYYY-MM-DD" (local midnight; END_OF_DAY: the next midnight) or
// "YYYY-MM-DDTHH:MM[:SS]" in local time, with a trailing "Z" for UTC.
Time parse_time(const std::string& text, bool end_of_day, const char* what)
{
    std::tm tm{};
    std::string s = text;
    bool utc = !s.empty() && (s.back() == 'Z' || s.back() == 'z');
    if (utc) s.pop_back();
    const char* end = nullptr;
    bool date_only = false;
    for (const char* fmt : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"}) {
        tm = {};
        end = strptime(s.c_str(), fmt, &tm);
        if (end && *end == '\0') break;
        end = nullptr;
    }
    if (!end) {
        tm = {};
        end = strptime(s.c_str(), "%Y-%m-%d", &tm);
        date_only = end && *end == '\0';
        if (!date_only)
            throw UsageError(std::string(what) + " \"" + text + "\": expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z]");
        if (end_of_day) tm.tm_mday += 1;
    }
    tm.tm_isdst = -1;
    std::time_t t = utc ? timegm(&tm) : std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) throw UsageError(std::string(what) + " \"" + text + "\": not a valid time");
    return static_cast<Time>(t);
}

// Everything a subcommand needs, built lazily so that validation comes first.
class Context {
  public:
    Context(std::string config_path, bool explicit_config, std::istream& in, std::ostream& out, std::ostream& err)
        : in(in), out(out), err(err), config_path_(std::move(config_path)), explicit_(explicit_config)
    {
    }
    const config::Config& config()
    {
        if (!config_) config_ = config::load_config(config_path_, explicit_);
        return *config_;
    }
    engine::Store& store(bool read_only = false)
    {
        if (!store_) store_ = store::open_store(config(), read_only);
        return *store_;
    }
    // Warns (does not refuse) when KEY names a domain that is not local.
    void warn_if_not_local(const std::string& key)
    {
        if (key == "*") return;
        std::string domain = key.substr(key.rfind('@') + 1);
        auto cfg = config().policy_domains;
        auto stored = store().domains();
        if (std::find(cfg.begin(), cfg.end(), domain) == cfg.end() &&
            std::find(stored.begin(), stored.end(), domain) == stored.end())
            err << "sesame: warning: " << domain
                << " is not a local domain (yet): the rule applies once it is (sesame domain add " << domain << ")\n";
    }

    std::istream& in;
    std::ostream& out;
    std::ostream& err;

  private:
    std::string config_path_;
    bool explicit_;
    std::optional<config::Config> config_;
    std::unique_ptr<engine::Store> store_;
};

int db_init(Context& ctx)
{
    for (const auto& line : store::backend_for(ctx.config()).init(ctx.config())) ctx.out << line << "\n";
    return kOk;
}

// "sqlite:PATH", "sqlite" (the configured file) or "dynamodb" (the
// configured tables): the configuration with that store chosen.
config::Config store_spec(const config::Config& base, const std::string& spec, const char* what)
{
    config::Config c = base;
    const auto colon = spec.find(':');
    c.store_backend = spec.substr(0, colon);
    if (c.store_backend == "sqlite" && colon != std::string::npos) {
        c.store_sqlite = spec.substr(colon + 1);
        if (c.store_sqlite.empty()) throw UsageError(std::string(what) + " \"" + spec + "\": no path after sqlite:");
    } else if (c.store_backend != "dynamodb" && c.store_backend != "sqlite") {
        throw UsageError(std::string(what) + " \"" + spec + "\": expected sqlite:PATH, sqlite or dynamodb");
    } else if (colon != std::string::npos) {
        throw UsageError(std::string(what) + " \"" + spec + "\": dynamodb takes its tables from [store.dynamodb]");
    }
    return c;
}

int store_copy(Context& ctx, const std::string& from, const std::string& to)
{
    const config::Config source_config = store_spec(ctx.config(), from, "--from");
    const config::Config target_config = store_spec(ctx.config(), to, "--to");
    auto source = store::open_store(source_config, /*read_only=*/true);
    auto target = store::open_store(target_config);
    if (source->name() == target->name())
        throw UsageError("--from and --to are the same store (" + source->name() + ")");
    const engine::RuleSet rules = source->load_rules();
    for (const auto& d : rules.domains) target->add_domain(d);
    std::size_t added = 0;
    for (std::size_t i = 0; i < rules.blocks.size();) {
        // load_rules() lists blocks by key: one import per key.
        std::size_t j = i;
        std::vector<std::string> patterns;
        for (; j < rules.blocks.size() && rules.blocks[j].key == rules.blocks[i].key; ++j)
            patterns.push_back(rules.blocks[j].pattern);
        added += target->import_blocks(rules.blocks[i].key, patterns);
        i = j;
    }
    for (const auto& [key, rule] : rules.forwards) target->set_forward(key, rule);
    for (const auto& [key, rule] : rules.ooo) target->set_ooo(key, rule);
    ctx.out << "copied " << rules.domains.size() << " domains, " << rules.blocks.size() << " block patterns (" << added
            << " new), " << rules.forwards.size() << " forwards, " << rules.ooo.size() << " out-of-office rules from "
            << source->name() << " to " << target->name() << "\n";
    return kOk;
}

int policy_test(Context& ctx, const std::string& from, const std::vector<std::string>& to,
                const std::string& message_file, bool json, const std::string& at)
{
    std::string why;
    auto sender = engine::normalize_sender(from, &why);
    if (!sender) throw UsageError("--from: " + why);
    engine::Envelope env{*sender, {}};
    for (const auto& r : to) env.recipients.push_back(address_arg(r, "--to"));
    const Time now = at.empty() ? static_cast<Time>(std::time(nullptr)) : parse_time(at, false, "--at");
    std::string raw;
    if (!message_file.empty()) {
        raw = read_input(message_file, ctx.in);
    } else {
        // No message: the smallest one that fits the envelope.
        raw = "From: " + (sender->empty() ? std::string("<>") : *sender) + "\r\nTo: ";
        for (std::size_t i = 0; i < env.recipients.size(); ++i) raw += (i ? ", " : "") + env.recipients[i];
        raw += "\r\nSubject: (policy test)\r\nMessage-ID: <policy-test@sesame.invalid>\r\n\r\n";
    }
    const config::Config& cfg = ctx.config();
    mime::mime_init();
    engine::MessageInfo msg = mime::read_message(raw, cfg.marker_header);
    engine::Store& st = ctx.store(/*read_only=*/true);
    auto snapshot = engine::Snapshot::build(st.load_rules(), config::policy_settings(cfg));
    engine::Decision d = engine::evaluate(*snapshot, env, msg, now, &st);
    ctx.out << (json ? render_json(d) : render_text(d));
    return kOk;
}

int block_import(Context& ctx, const std::string& key_text, const std::string& file)
{
    const std::string key = key_arg(key_text);
    const std::string data = read_input(file, ctx.in);
    const std::string name = file == "-" ? "<stdin>" : file;
    std::vector<std::string> patterns;
    std::istringstream lines(data);
    std::string line;
    for (std::size_t n = 1; std::getline(lines, line); ++n) {
        auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos || line[b] == '#') continue;
        auto e = line.find_last_not_of(" \t\r");
        const std::string p = line.substr(b, e - b + 1);
        if (auto why = engine::glob_error(p))
            throw UsageError(name + ":" + std::to_string(n) + ": pattern \"" + p + "\": " + *why);
        patterns.push_back(engine::ascii_lower(p));
    }
    ctx.warn_if_not_local(key);
    std::size_t added = ctx.store().import_blocks(key, patterns);
    ctx.out << "imported " << added << " new pattern" << (added == 1 ? "" : "s") << " for " << key << " ("
            << patterns.size() - added << " already listed)\n";
    return kOk;
}

// "removed"/"not present" reporting shared by the remove/clear commands.
int removed(Context& ctx, bool done, const std::string& what)
{
    if (done) {
        ctx.out << "removed " << what << "\n";
        return kOk;
    }
    ctx.err << "sesame: " << what << " is not present\n";
    return kNothing;
}

// The first word that is not a subcommand where one is expected, if any:
// CLI11 would only say that a subcommand is required.
std::optional<std::string> unknown_subcommand(CLI::App& app, int argc, const char* const* argv)
{
    CLI::App* level = &app;
    for (int i = 1; i < argc && level->get_require_subcommand_min() > 0; ++i) {
        std::string word = argv[i];
        if (word == "--config") {
            ++i;
            continue;
        }
        if (word.empty() || word[0] == '-') continue;
        CLI::App* sub = nullptr;
        for (CLI::App* s : level->get_subcommands({}))
            if (s->get_name() == word) sub = s;
        if (!sub) return word;
        level = sub;
    }
    return std::nullopt;
}

}  // namespace

int run(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err)
{
    CLI::App app{"sesame: edit the Sesame policy store and ask what the policy does with a mail", "sesame"};
    app.require_subcommand(1);
    std::string config_path;
    app.add_option("--config", config_path,
                   "configuration file (default: $SESAME_CONFIG, then /etc/sesame/sesame.conf)");

    // Each handler sets ACTION; the work runs after a successful parse.
    std::function<int(Context&)> action;
    std::string a1, a2, file, mode = "redirect", subject, text, html, start, until, from, message, at;
    std::vector<std::string> list;
    bool flag_no_copy = false, flag_json = false;
    int interval = 7;

    auto* db = app.add_subcommand("db", "the policy store")->require_subcommand(1);
    db->add_subcommand("init", "create or migrate the store")->callback([&] { action = db_init; });

    auto* storecmd = app.add_subcommand("store", "the store as a whole")->require_subcommand(1);
    auto* copy = storecmd->add_subcommand(
        "copy",
        "copy the policy (domains, blocks, forwards, out-of-office rules) into another store, adding to what it "
        "holds; reply state, delivery state and outbound records are not copied (they are short-lived)");
    copy->add_option("--from", a1, "sqlite:PATH, sqlite (the configured file) or dynamodb (the configured tables)")
        ->required();
    copy->add_option("--to", a2, "sqlite:PATH, sqlite or dynamodb; initialised already (sesame db init)")->required();
    copy->callback([&] { action = [&](Context& c) { return store_copy(c, a1, a2); }; });

    auto* domain = app.add_subcommand("domain", "local domains")->require_subcommand(1);
    auto* dadd = domain->add_subcommand("add", "add a local domain");
    dadd->add_option("domain", a1)->required();
    dadd->callback([&] {
        action = [&](Context& c) {
            const std::string d = domain_arg(a1);
            bool added = c.store().add_domain(d);
            c.out << (added ? "added domain " : "domain already present: ") << d << "\n";
            return kOk;
        };
    });
    auto* drm = domain->add_subcommand("remove", "remove a local domain");
    drm->add_option("domain", a1)->required();
    drm->callback([&] {
        action = [&](Context& c) {
            const std::string d = domain_arg(a1);
            return removed(c, c.store().remove_domain(d), "domain " + d);
        };
    });
    domain->add_subcommand("list", "list local domains")->callback([&] {
        action = [&](Context& c) {
            for (const auto& d : c.config().policy_domains) c.out << d << " (configuration)\n";
            for (const auto& d : c.store(true).domains()) c.out << d << "\n";
            return kOk;
        };
    });

    auto* block = app.add_subcommand("block", "sender blocklists")->require_subcommand(1);
    auto* badd = block->add_subcommand("add", "block senders matching PATTERN for KEY");
    badd->add_option("key", a1, "address, @domain or *")->required();
    badd->add_option("pattern", a2, "shell glob, or <> for the null sender")->required();
    badd->callback([&] {
        action = [&](Context& c) {
            const std::string key = key_arg(a1), p = pattern_arg(a2);
            c.warn_if_not_local(key);
            bool added = c.store().add_block(key, p);
            c.out << (added ? "blocked " : "already blocked: ") << p << " for " << key << "\n";
            return kOk;
        };
    });
    auto* brm = block->add_subcommand("remove", "remove a blocklist pattern");
    brm->add_option("key", a1)->required();
    brm->add_option("pattern", a2)->required();
    brm->callback([&] {
        action = [&](Context& c) {
            const std::string key = key_arg(a1), p = engine::ascii_lower(a2);
            return removed(c, c.store().remove_block(key, p), "block " + p + " for " + key);
        };
    });
    auto* blist = block->add_subcommand("list", "list blocklist patterns (KEY PATTERN, tab-separated)");
    blist->add_option("key", a1);
    blist->callback([&] {
        action = [&](Context& c) {
            std::optional<std::string> key;
            if (!a1.empty()) key = key_arg(a1);
            for (const auto& b : c.store(true).blocks(key)) c.out << b.key << "\t" << b.pattern << "\n";
            return kOk;
        };
    });
    auto* bimp = block->add_subcommand("import", "add many patterns for KEY from FILE (one a line, - for stdin)");
    bimp->add_option("key", a1)->required();
    bimp->add_option("file", file)->required();
    bimp->callback([&] { action = [&](Context& c) { return block_import(c, a1, file); }; });

    auto* forward = app.add_subcommand("forward", "forwarding rules")->require_subcommand(1);
    auto* fset = forward->add_subcommand("set", "forward mail for KEY to TARGET...");
    fset->add_option("key", a1)->required();
    fset->add_option("targets", list)->required();
    fset->add_option("--mode", mode, "redirect (default) or resend")->check(CLI::IsMember({"redirect", "resend"}));
    fset->add_flag("--no-keep-copy", flag_no_copy, "do not keep a copy in the original mailbox");
    fset->callback([&] {
        action = [&](Context& c) {
            const std::string key = key_arg(a1);
            engine::ForwardRule rule;
            for (const auto& t : list) {
                std::string addr = address_arg(t, "forward target");
                if (addr == key) throw UsageError("forward target " + addr + " is the key itself");
                if (std::find(rule.targets.begin(), rule.targets.end(), addr) == rule.targets.end())
                    rule.targets.push_back(addr);
            }
            rule.mode = mode == "resend" ? engine::ForwardMode::resend : engine::ForwardMode::redirect;
            rule.keep_copy = !flag_no_copy;
            c.warn_if_not_local(key);
            c.store().set_forward(key, rule);
            c.out << "forward for " << key << ":";
            for (const auto& t : rule.targets) c.out << " " << t;
            c.out << " (" << mode << (rule.keep_copy ? ", keep copy" : ", no copy") << ")\n";
            return kOk;
        };
    });
    auto* fclear = forward->add_subcommand("clear", "remove the forwarding rule of KEY");
    fclear->add_option("key", a1)->required();
    fclear->callback([&] {
        action = [&](Context& c) {
            const std::string key = key_arg(a1);
            return removed(c, c.store().clear_forward(key), "forward for " + key);
        };
    });

    auto* ooo = app.add_subcommand("ooo", "out-of-office replies")->require_subcommand(1);
    auto* oset = ooo->add_subcommand("set", "set the out-of-office reply of KEY");
    oset->add_option("key", a1)->required();
    oset->add_option("--subject", subject, "reply subject (default: \"Auto: <original subject>\")");
    oset->add_option("--text", text, "reply text")->required();
    oset->add_option("--html", html, "reply HTML (optional)");
    oset->add_option("--start", start, "first day (YYYY-MM-DD) or instant (YYYY-MM-DDTHH:MM)");
    oset->add_option("--until", until, "last day (inclusive) or instant");
    oset->add_option("--interval", interval, "days between two replies to the same sender")->check(CLI::Range(1, 365));
    oset->callback([&] {
        action = [&](Context& c) {
            const std::string key = key_arg(a1);
            engine::OooRule rule;
            rule.subject = subject;
            rule.text = text;
            rule.html = html;
            rule.interval_days = interval;
            if (!start.empty()) rule.start = parse_time(start, false, "--start");
            if (!until.empty()) rule.until = parse_time(until, true, "--until");
            if (rule.start && rule.until && *rule.until <= *rule.start)
                throw UsageError("--until is not after --start");
            if (text.empty()) throw UsageError("--text: the reply text is empty");
            c.warn_if_not_local(key);
            c.store().set_ooo(key, rule);
            c.out << "out-of-office for " << key << " set (interval " << interval << " days)\n";
            return kOk;
        };
    });
    auto* oclear = ooo->add_subcommand("clear", "remove the out-of-office reply of KEY");
    oclear->add_option("key", a1)->required();
    oclear->callback([&] {
        action = [&](Context& c) {
            const std::string key = key_arg(a1);
            return removed(c, c.store().clear_ooo(key), "out-of-office for " + key);
        };
    });

    auto* policy = app.add_subcommand("policy", "ask the policy")->require_subcommand(1);
    auto* ptest = policy->add_subcommand("test", "what would happen to this mail, and why (writes nothing)");
    ptest->add_option("--from", from, "envelope sender; '' or <> for the null sender")->required();
    ptest->add_option("--to", list, "recipient (repeatable)")->required();
    ptest->add_option("--message", message, "the message (RFC 5322 file, - for stdin)");
    ptest->add_flag("--json", flag_json, "print one JSON object");
    ptest->add_option("--at", at, "evaluate at this time instead of now (YYYY-MM-DD[THH:MM[:SS]][Z])");
    ptest->callback([&] { action = [&](Context& c) { return policy_test(c, from, list, message, flag_json, at); }; });

    app.add_subcommand("check-config", "validate the configuration file")->callback([&] {
        action = [&](Context& c) {
            const auto& cfg = c.config();
            c.out << "configuration OK\n";
            if (cfg.source == "(built-in defaults)")
                c.err << "sesame: no file at " << config::default_config_path() << ": built-in defaults\n";
            return kOk;
        };
    });

    if (auto unknown = unknown_subcommand(app, argc, argv)) {
        err << "sesame: unknown subcommand \"" << *unknown << "\" (see sesame --help)\n";
        return kBad;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e, out, err);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
        err << "sesame: " << msg << " (see sesame --help)\n";
        return kBad;
    }
    try {
        bool explicit_config = !config_path.empty();
        if (!explicit_config) {
            config_path = config::default_config_path();
            const char* env = std::getenv("SESAME_CONFIG");
            explicit_config = env && *env;
        }
        Context ctx(config_path, explicit_config, in, out, err);
        return action(ctx);
    } catch (const UsageError& e) {
        err << "sesame: " << e.what() << "\n";
    } catch (const config::ConfigError& e) {
        err << "sesame: " << e.what() << "\n";
    } catch (const engine::StoreError& e) {
        err << "sesame: " << e.what() << "\n";
    } catch (const std::exception& e) {
        err << "sesame: internal error: " << e.what() << "\n";
        return kBug;
    }
    return kBad;
}

}  // namespace sesame::cli
