// dynamodb.cpp - see dynamodb.hpp. DynamoDB's JSON protocol: POST / with
// X-Amz-Target: DynamoDB_20120810.<Operation> and a JSON body, answers in JSON;
// errors are {"__type":"com.amazonaws.dynamodb.v20120810#Code","message":...},
// read by parse_error.
#include "aws/sdk/dynamodb.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

namespace sesame::aws {

using nlohmann::json;

namespace {

constexpr std::size_t batch_size = 25;  // BatchWriteItem's limit
constexpr std::chrono::milliseconds table_poll{500};

// Each type and its name in DynamoDB's JSON, one table for both directions.
constexpr std::pair<AttributeValue::Type, std::string_view> kTypeNames[] = {
    {AttributeValue::Type::S, "S"},       {AttributeValue::Type::N, "N"},      {AttributeValue::Type::B, "B"},
    {AttributeValue::Type::BOOL, "BOOL"}, {AttributeValue::Type::NUL, "NULL"}, {AttributeValue::Type::L, "L"},
    {AttributeValue::Type::M, "M"},       {AttributeValue::Type::SS, "SS"},    {AttributeValue::Type::NS, "NS"},
    {AttributeValue::Type::BS, "BS"}};

std::string type_name(AttributeValue::Type t)
{
    for (const auto& [type, name] : kTypeNames)
        if (type == t) return std::string(name);
    return "?";
}

std::optional<AttributeValue::Type> type_of(std::string_view name)
{
    for (const auto& [type, n] : kTypeNames)
        if (n == name) return type;
    return std::nullopt;
}

// J for an error message, at most about 120 bytes: a scalar as JSON, an
// object by its keys and scalar values, an array by its size. Never the
// whole value: dumping a value nested without bound would recurse without
// bound too.
std::string shallow(const json& j)
{
    auto text = [](const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); };
    std::string out;
    if (j.is_object()) {
        out = "{";
        for (const auto& [k, v] : j.items()) {
            if (out.size() > 120) break;
            out += (out.size() > 1 ? ", " : "") + text(json(k)) + ": " + (v.is_structured() ? "..." : text(v));
        }
        out += "}";
    } else if (j.is_array()) {
        out = "[" + std::to_string(j.size()) + " values]";
    } else {
        out = text(j);
    }
    if (out.size() > 120) out = out.substr(0, 120) + "...";
    return out;
}

[[noreturn]] void bad_value(const std::string& why, const json& j)
{
    throw std::invalid_argument("not a DynamoDB attribute value (" + why + "): " + shallow(j));
}

std::string string_of(const json& j, const char* key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// An AwsException for a 2xx answer DynamoDB would not send.
[[noreturn]] void bad_answer(const std::string& operation, long status, const std::string& why)
{
    AwsError e;
    e.kind = AwsError::Kind::server;
    e.status = status;
    e.message = "answer is not what DynamoDB sends: " + why;
    throw AwsException(operation, e);
}

// Items of J[KEY] (absent or null: empty) read from DynamoDB's answer.
Item item_of(const json& j, const char* key, const std::string& operation)
{
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_object()) bad_answer(operation, 200, std::string(key) + " is not an object");
    try {
        return item_from_json(*it);
    } catch (const std::invalid_argument& e) {
        bad_answer(operation, 200, e.what());
    }
}

// The optional expression members of a write request.
void add_expression(json& body, const std::string& condition, const ExpressionNames& names,
                    const ExpressionValues& values)
{
    if (!condition.empty()) body["ConditionExpression"] = condition;
    if (!names.empty()) body["ExpressionAttributeNames"] = names;
    if (!values.empty()) body["ExpressionAttributeValues"] = values;
}

}  // namespace

AttributeValue AttributeValue::S(std::string s)
{
    AttributeValue v;
    v.type = Type::S;
    v.text = std::move(s);
    return v;
}

AttributeValue AttributeValue::N(std::string decimal)
{
    AttributeValue v;
    v.type = Type::N;
    v.text = std::move(decimal);
    return v;
}

AttributeValue AttributeValue::N(long long n)
{
    return N(std::to_string(n));
}

AttributeValue AttributeValue::BOOL(bool b)
{
    AttributeValue v;
    v.type = Type::BOOL;
    v.flag = b;
    return v;
}

AttributeValue AttributeValue::NUL()
{
    return AttributeValue{};
}

AttributeValue AttributeValue::L(std::vector<AttributeValue> l)
{
    AttributeValue v;
    v.type = Type::L;
    v.list = std::move(l);
    return v;
}

AttributeValue AttributeValue::M(std::map<std::string, AttributeValue> m)
{
    AttributeValue v;
    v.type = Type::M;
    v.map = std::move(m);
    return v;
}

AttributeValue AttributeValue::SS(std::set<std::string> s)
{
    AttributeValue v;
    v.type = Type::SS;
    v.set = std::move(s);
    return v;
}

void to_json(json& j, const AttributeValue& v)
{
    using T = AttributeValue::Type;
    json inner;
    switch (v.type) {
        case T::S:
        case T::N:
        case T::B:
            inner = v.text;
            break;
        case T::BOOL:
            inner = v.flag;
            break;
        case T::NUL:
            inner = true;
            break;
        case T::L:
            inner = v.list;
            break;
        case T::M:
            inner = v.map;
            break;
        case T::SS:
        case T::NS:
        case T::BS:
            inner = v.set;
            break;
    }
    j = json::object();
    j[type_name(v.type)] = std::move(inner);
}

namespace {

// DynamoDB keeps attribute values nested at most 32 levels deep; an answer
// nested deeper is not DynamoDB's, and reading it would recurse without bound.
constexpr int kMaxNesting = 32;

void read_value(const json& j, AttributeValue& v, int depth)
{
    using T = AttributeValue::Type;
    if (depth > kMaxNesting) bad_value("nested deeper than " + std::to_string(kMaxNesting) + " levels", j);
    if (!j.is_object() || j.size() != 1) bad_value("not an object with exactly one type", j);
    const std::string& name = j.begin().key();
    const json& inner = j.begin().value();
    std::optional<T> type = type_of(name);
    if (!type) bad_value("unknown type " + name, j);
    AttributeValue out;
    out.type = *type;
    switch (*type) {
        case T::S:
        case T::N:
        case T::B:
            if (!inner.is_string()) bad_value(name + " must be a string", j);
            out.text = inner.get<std::string>();
            break;
        case T::BOOL:
            if (!inner.is_boolean()) bad_value("BOOL must be true or false", j);
            out.flag = inner.get<bool>();
            break;
        case T::NUL:
            if (inner != true) bad_value("NULL must be true", j);
            break;
        case T::L:
            if (!inner.is_array()) bad_value("L must be an array", j);
            for (const auto& e : inner) read_value(e, out.list.emplace_back(), depth + 1);
            break;
        case T::M:
            if (!inner.is_object()) bad_value("M must be an object", j);
            for (const auto& [k, e] : inner.items()) read_value(e, out.map[k], depth + 1);
            break;
        case T::SS:
        case T::NS:
        case T::BS:
            if (!inner.is_array()) bad_value(name + " must be an array", j);
            for (const auto& e : inner) {
                if (!e.is_string()) bad_value(name + " must hold strings", j);
                out.set.insert(e.get<std::string>());
            }
            break;
    }
    v = std::move(out);
}

}  // namespace

void from_json(const json& j, AttributeValue& v)
{
    read_value(j, v, 1);
}

Item item_from_json(const json& j)
{
    if (!j.is_object()) throw std::invalid_argument("an item is not a JSON object");
    Item out;
    for (const auto& [k, e] : j.items()) from_json(e, out[k]);
    return out;
}

DynamoClient::DynamoClient(const ServiceContext& ctx, HttpOptions options)
    : ctx_(ctx),
      http_(options),
      sleep_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }),
      rng_(std::random_device{}())
{
}

void DynamoClient::set_sleep(std::function<void(std::chrono::milliseconds)> sleep)
{
    http_.set_sleep(sleep);
    sleep_ = std::move(sleep);
}

json DynamoClient::call(const std::string& operation, const json& body)
{
    const std::string what = "DynamoDB " + operation;
    HttpRequest request;
    request.method = "POST";
    request.url = ctx_.base_url("dynamodb") + "/";
    request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                       {"X-Amz-Target", "DynamoDB_20120810." + operation}};
    try {
        request.body = body.dump();
    } catch (const json::type_error& e) {  // a string that is not UTF-8
        throw std::invalid_argument(what + ": cannot encode the request: " + e.what());
    }
    HttpResponse r = http_.perform(std::move(request), ctx_.retry, aws_retryable,
                                   [&](HttpRequest& req) { ctx_.sign(req, "dynamodb"); });
    if (r.status < 200 || r.status >= 300) throw AwsException(what, parse_error(r));
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) bad_answer(what, r.status, "not a JSON object");
    return j;
}

std::optional<json> DynamoClient::call_conditional(const std::string& operation, const json& body)
{
    try {
        return call(operation, body);
    } catch (const AwsException& e) {
        if (e.error().code == "ConditionalCheckFailedException") return std::nullopt;
        throw;
    }
}

std::optional<Item> DynamoClient::get_item(const std::string& table, const Item& key, bool consistent_read)
{
    json a = call("GetItem", {{"TableName", table}, {"Key", key}, {"ConsistentRead", consistent_read}});
    if (!a.contains("Item")) return std::nullopt;
    return item_of(a, "Item", "DynamoDB GetItem");
}

bool DynamoClient::put_item(const std::string& table, const Item& item, const std::string& condition,
                            const ExpressionNames& names, const ExpressionValues& values)
{
    json body = {{"TableName", table}, {"Item", item}};
    add_expression(body, condition, names, values);
    return call_conditional("PutItem", body).has_value();
}

std::optional<Item> DynamoClient::update_item(const std::string& table, const Item& key, const std::string& update,
                                              const std::string& condition, const ExpressionNames& names,
                                              const ExpressionValues& values)
{
    json body = {{"TableName", table}, {"Key", key}, {"UpdateExpression", update}, {"ReturnValues", "ALL_NEW"}};
    add_expression(body, condition, names, values);
    std::optional<json> a = call_conditional("UpdateItem", body);
    if (!a) return std::nullopt;
    return item_of(*a, "Attributes", "DynamoDB UpdateItem");
}

bool DynamoClient::delete_item(const std::string& table, const Item& key, const std::string& condition,
                               const ExpressionNames& names, const ExpressionValues& values)
{
    json body = {{"TableName", table}, {"Key", key}};
    add_expression(body, condition, names, values);
    return call_conditional("DeleteItem", body).has_value();
}

ScanPage DynamoClient::page(const std::string& operation, json body, const Item& start_key)
{
    const std::string what = "DynamoDB " + operation;
    if (!start_key.empty()) body["ExclusiveStartKey"] = start_key;
    json a = call(operation, body);
    ScanPage page;
    if (auto it = a.find("Items"); it != a.end()) {
        if (!it->is_array()) bad_answer(what, 200, "Items is not an array");
        for (const auto& i : *it) {
            if (!i.is_object()) bad_answer(what, 200, "an item is not an object");
            try {
                page.items.push_back(item_from_json(i));
            } catch (const std::invalid_argument& e) {
                bad_answer(what, 200, e.what());
            }
        }
    }
    page.last_key = item_of(a, "LastEvaluatedKey", what);
    return page;
}

void DynamoClient::each_page(const std::string& operation, const json& body,
                             const std::function<void(std::vector<Item>&)>& each)
{
    Item start;
    do {
        ScanPage p = page(operation, body, start);
        each(p.items);
        // A page that ends where it began would loop for ever.
        if (!p.last_key.empty() && p.last_key == start)
            bad_answer("DynamoDB " + operation, 200, "LastEvaluatedKey repeats the ExclusiveStartKey");
        start = std::move(p.last_key);
    } while (!start.empty());
}

std::vector<Item> DynamoClient::all_pages(const std::string& operation, const json& body)
{
    std::vector<Item> all;
    each_page(operation, body, [&](std::vector<Item>& items) {
        all.insert(all.end(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
    });
    return all;
}

void DynamoClient::scan_each(const std::string& table, const std::function<void(std::vector<Item>&)>& each,
                             bool consistent_read)
{
    each_page("Scan", {{"TableName", table}, {"ConsistentRead", consistent_read}}, each);
}

ScanPage DynamoClient::scan(const std::string& table, const Item& start_key, int limit, bool consistent_read)
{
    json body = {{"TableName", table}, {"ConsistentRead", consistent_read}};
    if (limit > 0) body["Limit"] = limit;
    return page("Scan", std::move(body), start_key);
}

std::vector<Item> DynamoClient::scan_all(const std::string& table, int page_limit, bool consistent_read)
{
    json body = {{"TableName", table}, {"ConsistentRead", consistent_read}};
    if (page_limit > 0) body["Limit"] = page_limit;
    return all_pages("Scan", body);
}

std::vector<Item> DynamoClient::query_all(const std::string& table, const std::string& key_condition,
                                          const ExpressionNames& names, const ExpressionValues& values,
                                          bool consistent_read)
{
    json body = {{"TableName", table}, {"ConsistentRead", consistent_read}};
    add_expression(body, "", names, values);
    body["KeyConditionExpression"] = key_condition;
    return all_pages("Query", body);
}

void DynamoClient::batch_write(const std::string& table, const std::vector<Item>& puts,
                               const std::vector<Item>& deletes)
{
    const std::string what = "DynamoDB BatchWriteItem";
    const std::size_t total = puts.size() + deletes.size();
    auto request_at = [&](std::size_t i) -> json {
        if (i < puts.size()) return {{"PutRequest", {{"Item", puts[i]}}}};
        return {{"DeleteRequest", {{"Key", deletes[i - puts.size()]}}}};
    };
    for (std::size_t start = 0; start < total; start += batch_size) {
        const std::size_t end = std::min(total, start + batch_size);
        json pending = json::array();
        for (std::size_t i = start; i < end; ++i) pending.push_back(request_at(i));
        for (int attempt = 1;; ++attempt) {
            json a = call("BatchWriteItem", {{"RequestItems", {{table, pending}}}});
            json left = json::array();
            if (auto u = a.find("UnprocessedItems"); u != a.end() && u->is_object())
                if (auto t = u->find(table); t != u->end() && t->is_array()) left = *t;
            if (left.empty()) break;
            if (attempt >= batch_attempts) {
                AwsError e;
                e.kind = AwsError::Kind::throttling;
                e.status = 200;
                e.code = "UnprocessedItems";
                e.message = std::to_string(left.size() + (total - end)) + " of " + std::to_string(total) +
                            " items left unprocessed (" + std::to_string(left.size()) + " refused " +
                            std::to_string(attempt) + " times, " + std::to_string(total - end) + " not sent)";
                throw AwsException(what, e);
            }
            pending = std::move(left);
            sleep_(HttpClient::backoff(attempt, ctx_.retry, rng_));
        }
    }
}

void DynamoClient::create_table(const std::string& table, const std::string& key_attribute, const std::string& key_type,
                                std::chrono::milliseconds wait)
{
    create_table(table, KeySchema{key_attribute, key_type, "", "S"}, wait);
}

void DynamoClient::enable_ttl(const std::string& table, const std::string& attribute)
{
    call("UpdateTimeToLive",
         {{"TableName", table}, {"TimeToLiveSpecification", {{"AttributeName", attribute}, {"Enabled", true}}}});
}

void DynamoClient::create_table(const std::string& table, const KeySchema& key, std::chrono::milliseconds wait)
{
    json definitions = {{{"AttributeName", key.hash}, {"AttributeType", key.hash_type}}};
    json schema = {{{"AttributeName", key.hash}, {"KeyType", "HASH"}}};
    if (!key.range.empty()) {
        definitions.push_back({{"AttributeName", key.range}, {"AttributeType", key.range_type}});
        schema.push_back({{"AttributeName", key.range}, {"KeyType", "RANGE"}});
    }
    call("CreateTable", {{"TableName", table},
                         {"AttributeDefinitions", definitions},
                         {"KeySchema", schema},
                         {"BillingMode", "PAY_PER_REQUEST"}});
    for (std::chrono::milliseconds waited{0};; waited += table_poll) {
        std::optional<TableDescription> d = describe_table(table);
        if (d && d->status == "ACTIVE") return;
        if (waited >= wait) {
            AwsError e;
            e.kind = AwsError::Kind::server;
            e.status = 200;
            e.message = "table " + table + " is " + (d ? d->status : std::string("missing")) + ", not ACTIVE, after " +
                        std::to_string(waited.count()) + " ms";
            throw AwsException("DynamoDB CreateTable", e);
        }
        sleep_(table_poll);
    }
}

std::optional<TableDescription> DynamoClient::describe_table(const std::string& table)
{
    json a;
    try {
        a = call("DescribeTable", {{"TableName", table}});
    } catch (const AwsException& e) {
        if (e.error().code == "ResourceNotFoundException") return std::nullopt;
        throw;
    }
    auto t = a.find("Table");
    if (t == a.end() || !t->is_object()) bad_answer("DynamoDB DescribeTable", 200, "no Table");
    TableDescription d;
    d.name = string_of(*t, "TableName");
    d.status = string_of(*t, "TableStatus");
    if (auto c = t->find("ItemCount"); c != t->end() && c->is_number_integer()) d.item_count = c->get<long long>();
    if (auto ks = t->find("KeySchema"); ks != t->end() && ks->is_array())
        for (const auto& k : *ks)
            if (k.is_object()) {
                if (string_of(k, "KeyType") == "HASH") d.key_attribute = string_of(k, "AttributeName");
                if (string_of(k, "KeyType") == "RANGE") d.range_attribute = string_of(k, "AttributeName");
            }
    if (auto ad = t->find("AttributeDefinitions"); ad != t->end() && ad->is_array())
        for (const auto& def : *ad)
            if (def.is_object() && string_of(def, "AttributeName") == d.key_attribute)
                d.key_type = string_of(def, "AttributeType");
    return d;
}

std::vector<std::string> DynamoClient::list_tables()
{
    std::vector<std::string> names;
    std::string start;
    do {
        json body = json::object();
        if (!start.empty()) body["ExclusiveStartTableName"] = start;
        json a = call("ListTables", body);
        if (auto t = a.find("TableNames"); t != a.end() && t->is_array())
            for (const auto& n : *t)
                if (n.is_string()) names.push_back(n.get<std::string>());
        std::string next = string_of(a, "LastEvaluatedTableName");
        if (!next.empty() && next == start) bad_answer("DynamoDB ListTables", 200, "LastEvaluatedTableName repeats");
        start = std::move(next);
    } while (!start.empty());
    return names;
}

}  // namespace sesame::aws
