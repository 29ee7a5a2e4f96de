// dynamo_store.cpp - the items behind DynamoStore, and how older items are read.
//
// Reading is lenient where the older workers were: a list of targets or
// patterns may be a list (L), a string set (SS) or one string; ooo_active
// may be a BOOL, a number or "true"; keys are normalised as `sesame` would
// and an item whose key, pattern or target cannot be used is skipped (the
// rest of the policy still loads); patterns are taken as they are,
// lower-cased, as the engine matches them. Writing is exact: Sesame writes the
// shapes the older workers read (lists, BOOL, strings) plus its own
// attributes, and never an empty string.
#include "aws/dynamodb/dynamo_store.hpp"

#include <algorithm>
#include <ctime>
#include <set>
#include <stdexcept>
#include <tuple>

#include "policy/engine/address.hpp"

namespace sesame::dynamodb {

namespace {

using aws::AttributeValue;
using aws::Item;
using engine::StoreError;
using engine::Time;

// sesame-policy's items.
constexpr const char* kPk = "pk";
constexpr const char* kSk = "sk";
constexpr const char* kVersionPk = "version";
constexpr const char* kDomainPk = "domain";
constexpr std::string_view kBlockPrefix = "block:";

// The older workers' attributes, and Sesame's additions beside them.
constexpr const char* kForwards = "forwards";
constexpr const char* kForwardMode = "forward_mode";
constexpr const char* kForwardKeepCopy = "forward_keep_copy";
constexpr const char* kOooActive = "ooo_active";
constexpr const char* kOooMessage = "ooo_message";
constexpr const char* kContentType = "content_type";
constexpr const char* kOooSubject = "ooo_subject";
constexpr const char* kOooHtml = "ooo_html";
constexpr const char* kOooStart = "ooo_start";
constexpr const char* kOooUntil = "ooo_until";
constexpr const char* kOooInterval = "ooo_interval_days";
constexpr const char* kBlockedPatterns = "blocked_patterns";
constexpr const char* kOriginalSource = "original_source";
constexpr const char* kBouncedRecipients = "bouncedRecipients";
constexpr const char* kDestination = "destination";
constexpr const char* kSentAt = "sent_at";
constexpr const char* kExpiresAt = "expires_at";  // the TTL attribute of the tables Sesame creates

// How long state lives before DynamoDB's TTL may remove it.
constexpr Time kDay = 86400;
constexpr Time kIngestStateSeconds = 15 * kDay;  // SQS retention (14 days) and a day, as sesame-ingest prunes
constexpr Time kOutboundSeconds = 30 * kDay;     // bounces arrive within days

const AttributeValue* find(const Item& item, const char* name)
{
    auto it = item.find(name);
    return it == item.end() ? nullptr : &it->second;
}

std::string text_of(const Item& item, const char* name)
{
    const AttributeValue* v = find(item, name);
    return v && (v->type == AttributeValue::Type::S || v->type == AttributeValue::Type::N) ? v->text : std::string();
}

std::optional<std::int64_t> number_of(const Item& item, const char* name)
{
    const std::string t = text_of(item, name);
    if (t.empty()) return std::nullopt;
    try {
        std::size_t used = 0;
        long long n = std::stoll(t, &used);
        if (used == t.size()) return n;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

// A list (L of S), a string set (SS) or one string, as strings.
std::vector<std::string> strings_of(const AttributeValue* v)
{
    std::vector<std::string> out;
    if (!v) return out;
    switch (v->type) {
        case AttributeValue::Type::S:
            if (!v->text.empty()) out.push_back(v->text);
            break;
        case AttributeValue::Type::SS:
            out.assign(v->set.begin(), v->set.end());
            break;
        case AttributeValue::Type::L:
            for (const auto& e : v->list)
                if (e.type == AttributeValue::Type::S) out.push_back(e.text);
            break;
        default:
            break;
    }
    return out;
}

bool truthy(const AttributeValue* v)
{
    if (!v) return false;
    if (v->type == AttributeValue::Type::BOOL) return v->flag;
    if (v->type == AttributeValue::Type::N) return v->text != "0";
    if (v->type == AttributeValue::Type::S) {
        const std::string s = engine::ascii_lower(v->text);
        return s == "true" || s == "1" || s == "yes" || s == "on";
    }
    return false;
}

AttributeValue string_list(const std::vector<std::string>& v)
{
    std::vector<AttributeValue> l;
    for (const auto& s : v) l.push_back(AttributeValue::S(s));
    return AttributeValue::L(std::move(l));
}

// A pattern as the engine stores it: lower-cased. Patterns `sesame` would
// refuse still match as fnmatch does (as with sqlite); only an empty one,
// which matches nothing, is dropped.
std::optional<std::string> usable_pattern(const std::string& raw)
{
    if (raw.empty()) return std::nullopt;
    return engine::ascii_lower(raw);
}

Item policy_key(std::string pk, std::string sk)
{
    return {{kPk, AttributeValue::S(std::move(pk))}, {kSk, AttributeValue::S(std::move(sk))}};
}

std::string block_pk(const std::string& key)
{
    return std::string(kBlockPrefix) + key;
}

Time wall_clock()
{
    return static_cast<Time>(std::time(nullptr));
}

// An UpdateExpression built clause by clause, with its names and values.
struct Update {
    std::string set, remove;
    aws::ExpressionNames names;
    aws::ExpressionValues values;

    void assign(const char* attribute, AttributeValue v)
    {
        const std::string n = "#a" + std::to_string(names.size());
        names[n] = attribute;
        values[":v" + std::to_string(values.size())] = std::move(v);
        set += (set.empty() ? "SET " : ", ") + n + " = :v" + std::to_string(values.size() - 1);
    }
    void drop(const char* attribute)
    {
        const std::string n = "#a" + std::to_string(names.size());
        names[n] = attribute;
        remove += (remove.empty() ? "REMOVE " : ", ") + n;
    }
    // ATTRIBUTE = V, or no ATTRIBUTE when V is empty.
    void assign_or_drop(const char* attribute, const std::string& v)
    {
        if (v.empty())
            drop(attribute);
        else
            assign(attribute, AttributeValue::S(v));
    }
    // The name placeholder of ATTRIBUTE (added when missing).
    std::string name(const char* attribute)
    {
        for (const auto& [n, a] : names)
            if (a == attribute) return n;
        const std::string n = "#a" + std::to_string(names.size());
        names[n] = attribute;
        return n;
    }
    std::string expression() const { return set + (set.empty() || remove.empty() ? "" : " ") + remove; }
};

}  // namespace

DynamoStore::DynamoStore(std::shared_ptr<const aws::ServiceContext> ctx, Tables tables, aws::HttpOptions http)
    : ctx_(std::move(ctx)), tables_(std::move(tables)), client_(*ctx_, http)
{
}

std::string DynamoStore::name() const
{
    return "dynamodb store (" + (ctx_->endpoint.empty() ? ctx_->region : ctx_->endpoint) + ")";
}

template <typename F>
auto DynamoStore::guarded(const char* what, F&& f) const -> decltype(f())
{
    try {
        return f();
    } catch (const aws::AwsException& e) {
        std::string hint;
        if (e.error().code == "ResourceNotFoundException") hint = " (run `sesame db init`)";
        throw StoreError(name() + ": " + what + ": " + e.what() + hint);
    } catch (const std::invalid_argument& e) {
        throw StoreError(name() + ": " + what + ": " + e.what());
    }
}

void DynamoStore::scan(const std::string& table, const std::function<void(const Item&)>& each)
{
    guarded("Scan", [&] {
        client_.scan_each(table, [&](std::vector<Item>& items) {
            for (const Item& i : items) each(i);
        });
    });
}

const std::string& DynamoStore::key_attribute(const std::string& table) const
{
    if (auto it = key_attributes_.find(table); it != key_attributes_.end()) return it->second;
    auto d = guarded("DescribeTable", [&] { return client_.describe_table(table); });
    if (!d) throw StoreError(name() + ": table " + table + " does not exist (run `sesame db init`)");
    if (d->key_type != "S" || !d->range_attribute.empty())
        throw StoreError(name() + ": table " + table + " is keyed by " + d->key_attribute +
                         (d->range_attribute.empty() ? "" : " and " + d->range_attribute) + " of type " + d->key_type +
                         "; Sesame reads tables keyed by one string attribute");
    return key_attributes_.emplace(table, d->key_attribute).first->second;
}

Item DynamoStore::address_key(const std::string& table, const std::string& address) const
{
    return {{key_attribute(table), AttributeValue::S(address)}};
}

std::vector<std::string> DynamoStore::init()
{
    std::vector<std::string> lines;
    auto ensure = [&](const std::string& table, const aws::KeySchema& schema, bool own, bool ttl) {
        auto d = guarded("DescribeTable", [&] { return client_.describe_table(table); });
        const std::string label = "dynamodb table " + table;
        if (d) {
            if (own && (d->key_attribute != schema.hash || d->range_attribute != schema.range))
                throw StoreError(name() + ": table " + table + " exists with the key " + d->key_attribute +
                                 (d->range_attribute.empty() ? "" : "/" + d->range_attribute) + ", not " + schema.hash +
                                 (schema.range.empty() ? "" : "/" + schema.range));
            if (!own && d->key_type != "S")
                throw StoreError(name() + ": table " + table + " is keyed by " + d->key_attribute + " of type " +
                                 d->key_type + "; Sesame reads tables keyed by a string");
            lines.push_back(label + ": present (key " + d->key_attribute +
                            (d->range_attribute.empty() ? "" : "/" + d->range_attribute) + ")");
            return;
        }
        guarded("CreateTable", [&] { client_.create_table(table, schema); });
        std::string line =
            label + ": created (key " + schema.hash + (schema.range.empty() ? "" : "/" + schema.range) + ")";
        if (ttl) {
            try {
                client_.enable_ttl(table, kExpiresAt);
                line += ", time to live on " + std::string(kExpiresAt);
            } catch (const aws::AwsException& e) {
                line += "; time to live NOT enabled (" + e.error().code +
                        "): run `aws dynamodb update-time-to-live --table-name " + table +
                        " --time-to-live-specification Enabled=true,AttributeName=" + kExpiresAt + "`";
            }
        }
        lines.push_back(line);
    };
    ensure(tables_.rules, {kAddressKey, "S", "", "S"}, false, false);
    ensure(tables_.blocked_senders, {kAddressKey, "S", "", "S"}, false, false);
    ensure(tables_.outbound, {kMessageIdKey, "S", "", "S"}, false, true);
    ensure(tables_.policy, {kPk, "S", kSk, "S"}, true, false);
    ensure(tables_.reply_state, {"mailbox", "S", "sender", "S"}, true, true);
    ensure(tables_.ingest_state, {kMessageIdKey, "S", "recipient", "S"}, true, true);
    return lines;
}

// --- the policy ------------------------------------------------------------

void DynamoStore::bump_version()
{
    guarded("UpdateItem (policy version)", [&] {
        client_.update_item(tables_.policy, policy_key(kVersionPk, kVersionPk), "ADD #v :one", "", {{"#v", "version"}},
                            {{":one", AttributeValue::N(1)}});
    });
}

std::uint64_t DynamoStore::policy_version()
{
    auto item = guarded("GetItem (policy version)",
                        [&] { return client_.get_item(tables_.policy, policy_key(kVersionPk, kVersionPk)); });
    if (!item) return 0;
    auto n = number_of(*item, "version");
    return n && *n > 0 ? static_cast<std::uint64_t>(*n) : 0;
}

bool DynamoStore::add_domain(const std::string& domain)
{
    bool added = guarded("PutItem (domain)", [&] {
        return client_.put_item(tables_.policy, policy_key(kDomainPk, domain), "attribute_not_exists(pk)");
    });
    if (added) bump_version();
    return added;
}

bool DynamoStore::remove_domain(const std::string& domain)
{
    bool removed = guarded("DeleteItem (domain)", [&] {
        return client_.delete_item(tables_.policy, policy_key(kDomainPk, domain), "attribute_exists(pk)");
    });
    if (removed) bump_version();
    return removed;
}

std::vector<std::string> DynamoStore::domains()
{
    auto items = guarded("Query (domains)", [&] {
        return client_.query_all(tables_.policy, "pk = :pk", {}, {{":pk", AttributeValue::S(kDomainPk)}});
    });
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(text_of(i, kSk));
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> DynamoStore::legacy_patterns(const std::string& key, bool* is_list)
{
    auto item = guarded("GetItem (blocked senders)", [&] {
        return client_.get_item(tables_.blocked_senders, address_key(tables_.blocked_senders, key));
    });
    if (!item) return {};
    const AttributeValue* v = find(*item, kBlockedPatterns);
    if (is_list) *is_list = v && v->type == AttributeValue::Type::L;
    return strings_of(v);
}

std::vector<std::string> DynamoStore::own_patterns(const std::string& key)
{
    auto items = guarded("Query (blocks)", [&] {
        return client_.query_all(tables_.policy, "pk = :pk", {}, {{":pk", AttributeValue::S(block_pk(key))}});
    });
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(text_of(i, kSk));
    return out;
}

bool DynamoStore::add_block(const std::string& key, const std::string& pattern)
{
    for (const auto& p : legacy_patterns(key))
        if (engine::ascii_lower(p) == pattern) return false;
    Item item = policy_key(block_pk(key), pattern);
    item["added_at"] = AttributeValue::N(wall_clock());
    bool added =
        guarded("PutItem (block)", [&] { return client_.put_item(tables_.policy, item, "attribute_not_exists(pk)"); });
    if (added) bump_version();
    return added;
}

bool DynamoStore::remove_block(const std::string& key, const std::string& pattern)
{
    bool removed = guarded("DeleteItem (block)", [&] {
        return client_.delete_item(tables_.policy, policy_key(block_pk(key), pattern), "attribute_exists(pk)");
    });
    // The older table's list: remove the entry by its index, on condition
    // that it is still there (another writer may have changed the list).
    for (int attempt = 0; attempt < 5; ++attempt) {
        bool is_list = false;
        const std::vector<std::string> patterns = legacy_patterns(key, &is_list);
        auto at = std::find_if(patterns.begin(), patterns.end(),
                               [&](const std::string& p) { return engine::ascii_lower(p) == pattern; });
        if (at == patterns.end()) break;
        const std::string path = is_list ? "#b[" + std::to_string(at - patterns.begin()) + "]" : "#b";
        const bool done = guarded("UpdateItem (blocked senders)", [&] {
            if (is_list)
                return client_
                    .update_item(tables_.blocked_senders, address_key(tables_.blocked_senders, key), "REMOVE " + path,
                                 path + " = :p", {{"#b", kBlockedPatterns}}, {{":p", AttributeValue::S(*at)}})
                    .has_value();
            return client_
                .update_item(tables_.blocked_senders, address_key(tables_.blocked_senders, key), "DELETE #b :p",
                             "contains(#b, :one)", {{"#b", kBlockedPatterns}},
                             {{":p", AttributeValue::SS({*at})}, {":one", AttributeValue::S(*at)}})
                .has_value();
        });
        if (done) {
            removed = true;
            break;
        }
    }
    if (removed) bump_version();
    return removed;
}

std::vector<engine::BlockRule> DynamoStore::blocks(const std::optional<std::string>& key)
{
    std::set<std::pair<std::string, std::string>> all;
    if (key) {
        for (const auto& p : legacy_patterns(*key))
            if (auto u = usable_pattern(p)) all.emplace(*key, *u);
        for (const auto& p : own_patterns(*key)) all.emplace(*key, p);
    } else {
        for (const auto& b : load_rules().blocks) all.emplace(b.key, b.pattern);
    }
    std::vector<engine::BlockRule> out;
    for (const auto& [k, p] : all) out.push_back({k, p});
    return out;
}

std::size_t DynamoStore::import_blocks(const std::string& key, const std::vector<std::string>& patterns)
{
    std::set<std::string> present;
    for (const auto& p : legacy_patterns(key)) present.insert(engine::ascii_lower(p));
    for (const auto& p : own_patterns(key)) present.insert(p);
    std::vector<Item> puts;
    const Time now = wall_clock();
    for (const auto& p : patterns) {
        if (!present.insert(p).second) continue;
        Item item = policy_key(block_pk(key), p);
        item["added_at"] = AttributeValue::N(now);
        puts.push_back(std::move(item));
    }
    guarded("BatchWriteItem (blocks)", [&] { client_.batch_write(tables_.policy, puts); });
    if (!puts.empty()) bump_version();
    return puts.size();
}

void DynamoStore::set_forward(const std::string& key, const engine::ForwardRule& rule)
{
    Update u;
    u.assign(kForwards, string_list(rule.targets));
    u.assign(kForwardMode, AttributeValue::S(engine::to_string(rule.mode)));
    u.assign(kForwardKeepCopy, AttributeValue::BOOL(rule.keep_copy));
    update_rule(key, u.expression(), "", u.names, u.values, "UpdateItem (forward)");
}

bool DynamoStore::clear_forward(const std::string& key)
{
    Update u;
    for (const char* a : {kForwards, kForwardMode, kForwardKeepCopy}) u.drop(a);
    const std::string condition = "attribute_exists(" + u.name(kForwards) + ")";
    return update_rule(key, u.expression(), condition, u.names, u.values, "UpdateItem (forward)");
}

void DynamoStore::set_ooo(const std::string& key, const engine::OooRule& rule)
{
    Update u;
    u.assign(kOooActive, AttributeValue::BOOL(rule.active));
    // The older workers' message is one body with its content type: the
    // text when there is one (the HTML beside it in ooo_html), else the HTML.
    const bool text = !rule.text.empty();
    u.assign(kOooMessage, AttributeValue::S(text ? rule.text : rule.html));
    u.assign(kContentType, AttributeValue::S(text ? "text/plain" : "text/html"));
    u.assign_or_drop(kOooHtml, text ? rule.html : std::string());
    u.assign_or_drop(kOooSubject, rule.subject);
    u.assign(kOooInterval, AttributeValue::N(rule.interval_days));
    if (rule.start)
        u.assign(kOooStart, AttributeValue::N(*rule.start));
    else
        u.drop(kOooStart);
    if (rule.until)
        u.assign(kOooUntil, AttributeValue::N(*rule.until));
    else
        u.drop(kOooUntil);
    update_rule(key, u.expression(), "", u.names, u.values, "UpdateItem (out-of-office)");
}

bool DynamoStore::clear_ooo(const std::string& key)
{
    Update u;
    for (const char* a :
         {kOooActive, kOooMessage, kContentType, kOooHtml, kOooSubject, kOooInterval, kOooStart, kOooUntil})
        u.drop(a);
    const std::string condition = "attribute_exists(" + u.name(kOooMessage) + ")";
    return update_rule(key, u.expression(), condition, u.names, u.values, "UpdateItem (out-of-office)");
}

bool DynamoStore::update_rule(const std::string& key, const std::string& update, const std::string& condition,
                              const aws::ExpressionNames& names, const aws::ExpressionValues& values, const char* what)
{
    auto after = guarded(what, [&] {
        return client_.update_item(tables_.rules, address_key(tables_.rules, key), update, condition, names, values);
    });
    if (!after) return false;
    bump_version();
    return true;
}

engine::RuleSet DynamoStore::load_rules()
{
    engine::RuleSet r;
    // The version first: a write that lands during the scans moves it
    // again, and the next poll reloads.
    r.version = policy_version();
    std::set<std::string> domains;
    std::vector<engine::BlockRule>& blocks = r.blocks;  // sorted and made unique at the end
    // Page by page: a million patterns as parsed items would take about a
    // gigabyte; as rules, a tenth of that.
    scan(tables_.policy, [&](const Item& i) {
        const std::string pk = text_of(i, kPk), sk = text_of(i, kSk);
        if (pk == kDomainPk)
            domains.insert(sk);
        else if (pk.rfind(kBlockPrefix, 0) == 0)
            blocks.push_back({pk.substr(kBlockPrefix.size()), sk});
    });
    const std::string& blocked_key = key_attribute(tables_.blocked_senders);
    scan(tables_.blocked_senders, [&](const Item& i) {
        auto key = engine::normalize_key(text_of(i, blocked_key.c_str()));
        if (!key) return;
        for (const auto& p : strings_of(find(i, kBlockedPatterns)))
            if (auto u = usable_pattern(p)) blocks.push_back({*key, *u});
    });
    const std::string& rules_key = key_attribute(tables_.rules);
    scan(tables_.rules, [&](const Item& i) {
        auto key = engine::normalize_key(text_of(i, rules_key.c_str()));
        if (!key) return;
        if (find(i, kForwards)) {
            engine::ForwardRule rule;
            for (const auto& t : strings_of(find(i, kForwards))) {
                auto a = engine::parse_address(t);
                if (a && std::find(rule.targets.begin(), rule.targets.end(), a->full()) == rule.targets.end())
                    rule.targets.push_back(a->full());
            }
            // The older workers resend (a new message from the forwarder).
            const std::string mode = text_of(i, kForwardMode);
            rule.mode = mode == "redirect" ? engine::ForwardMode::redirect : engine::ForwardMode::resend;
            rule.keep_copy = find(i, kForwardKeepCopy) ? truthy(find(i, kForwardKeepCopy)) : true;
            if (!rule.targets.empty()) r.forwards[*key] = std::move(rule);
        }
        if (const AttributeValue* m = find(i, kOooMessage); m && m->type == AttributeValue::Type::S) {
            engine::OooRule rule;
            rule.active = truthy(find(i, kOooActive));
            if (engine::ascii_lower(text_of(i, kContentType)).rfind("text/html", 0) == 0) {
                rule.html = m->text;
            } else {
                rule.text = m->text;
                rule.html = text_of(i, kOooHtml);
            }
            rule.subject = text_of(i, kOooSubject);
            rule.start = number_of(i, kOooStart);
            rule.until = number_of(i, kOooUntil);
            if (auto days = number_of(i, kOooInterval); days && *days > 0) rule.interval_days = *days;
            r.ooo[*key] = std::move(rule);
        }
    });
    r.domains.assign(domains.begin(), domains.end());
    auto order = [](const engine::BlockRule& a, const engine::BlockRule& b) {
        return std::tie(a.key, a.pattern) < std::tie(b.key, b.pattern);
    };
    auto same = [](const engine::BlockRule& a, const engine::BlockRule& b) {
        return a.key == b.key && a.pattern == b.pattern;
    };
    std::sort(blocks.begin(), blocks.end(), order);
    blocks.erase(std::unique(blocks.begin(), blocks.end(), same), blocks.end());
    return r;
}

// --- state -----------------------------------------------------------------

std::optional<Time> DynamoStore::last_reply(std::string_view mailbox, std::string_view sender) const
{
    if (mailbox.empty() || sender.empty()) return std::nullopt;
    auto item = guarded("GetItem (reply state)", [&] {
        return client_.get_item(tables_.reply_state, {{"mailbox", AttributeValue::S(std::string(mailbox))},
                                                      {"sender", AttributeValue::S(std::string(sender))}});
    });
    if (!item) return std::nullopt;
    return number_of(*item, "replied_at");
}

bool DynamoStore::record_reply_if_due(std::string_view mailbox, std::string_view sender, Time now, Time interval)
{
    if (mailbox.empty() || sender.empty())
        throw StoreError(name() + ": reply state needs a mailbox and a sender (got an empty one)");
    // One conditional put: of two hosts racing for the same pair, the
    // second finds the first's replied_at inside the interval and loses.
    Item item = {{"mailbox", AttributeValue::S(std::string(mailbox))},
                 {"sender", AttributeValue::S(std::string(sender))},
                 {"replied_at", AttributeValue::N(now)},
                 {kExpiresAt, AttributeValue::N(now + interval + kDay)}};
    return guarded("PutItem (reply state)", [&] {
        return client_.put_item(tables_.reply_state, item, "attribute_not_exists(mailbox) OR replied_at <= :cutoff", {},
                                {{":cutoff", AttributeValue::N(now - interval)}});
    });
}

std::size_t DynamoStore::prune_replies(Time)
{
    return 0;  // expires_at: DynamoDB's TTL removes old state
}

std::map<std::string, std::string> DynamoStore::ingest_outcomes(std::string_view ses_message_id)
{
    auto items = guarded("Query (ingest state)", [&] {
        return client_.query_all(tables_.ingest_state, "#id = :id", {{"#id", kMessageIdKey}},
                                 {{":id", AttributeValue::S(std::string(ses_message_id))}});
    });
    std::map<std::string, std::string> out;
    for (const auto& i : items) out[text_of(i, "recipient")] = text_of(i, "outcome");
    return out;
}

void DynamoStore::record_ingest_outcomes(std::string_view ses_message_id,
                                         const std::vector<engine::IngestOutcome>& outcomes, Time now)
{
    std::map<std::string, Item> latest;  // one put per recipient in a batch: the last record wins
    for (const auto& o : outcomes) {
        Item item = {{kMessageIdKey, AttributeValue::S(std::string(ses_message_id))},
                     {"recipient", AttributeValue::S(o.recipient)},
                     {"outcome", AttributeValue::S(o.outcome)},
                     {"at", AttributeValue::N(now)},
                     {kExpiresAt, AttributeValue::N(now + kIngestStateSeconds)}};
        if (!o.detail.empty()) item["detail"] = AttributeValue::S(o.detail);
        latest[o.recipient] = std::move(item);
    }
    std::vector<Item> puts;
    for (auto& [r, item] : latest) puts.push_back(std::move(item));
    guarded("BatchWriteItem (ingest state)", [&] { client_.batch_write(tables_.ingest_state, puts); });
}

std::size_t DynamoStore::prune_ingest(Time)
{
    return 0;  // expires_at: DynamoDB's TTL removes old state
}

void DynamoStore::record_outbound(const engine::OutboundRecord& record)
{
    Item item = address_key(tables_.outbound, record.message_id);
    item[kOriginalSource] = AttributeValue::S(record.original_source);
    item[kDestination] = string_list(record.destination);
    item[kSentAt] = AttributeValue::N(record.sent_at);
    item[kBouncedRecipients] = string_list(record.bounced_recipients);
    item[kExpiresAt] = AttributeValue::N(record.sent_at + kOutboundSeconds);
    guarded("PutItem (outbound)", [&] { client_.put_item(tables_.outbound, item); });
}

std::optional<engine::OutboundRecord> DynamoStore::outbound(std::string_view message_id)
{
    if (message_id.empty()) return std::nullopt;
    auto item = guarded("GetItem (outbound)", [&] {
        return client_.get_item(tables_.outbound, address_key(tables_.outbound, std::string(message_id)));
    });
    if (!item) return std::nullopt;
    engine::OutboundRecord r;
    r.message_id = std::string(message_id);
    r.original_source = text_of(*item, kOriginalSource);
    r.destination = strings_of(find(*item, kDestination));
    r.sent_at = number_of(*item, kSentAt).value_or(0);
    r.bounced_recipients = strings_of(find(*item, kBouncedRecipients));
    return r;
}

void DynamoStore::add_bounced(std::string_view message_id, const std::vector<std::string>& recipients)
{
    auto record = outbound(message_id);
    if (!record) return;
    std::vector<std::string> bounced = record->bounced_recipients;
    for (const auto& r : recipients)
        if (std::find(bounced.begin(), bounced.end(), r) == bounced.end()) bounced.push_back(r);
    if (bounced == record->bounced_recipients) return;
    const std::string& key = key_attribute(tables_.outbound);
    guarded("UpdateItem (outbound)", [&] {
        client_.update_item(tables_.outbound, address_key(tables_.outbound, std::string(message_id)), "SET #b = :b",
                            "attribute_exists(#k)", {{"#b", kBouncedRecipients}, {"#k", key}},
                            {{":b", string_list(bounced)}});
    });
}

}  // namespace sesame::dynamodb
