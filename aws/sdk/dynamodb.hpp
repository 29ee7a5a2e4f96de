// dynamodb.hpp - the DynamoDB calls a policy store needs, over the JSON protocol.
//
// AttributeValue is DynamoDB's typed value (S, N kept as the decimal string
// it was written as, BOOL, NULL, L, M, SS) and Item a map of them; both
// convert to and from DynamoDB's typed JSON ({"S":"x"}, {"L":[{"S":"a"}]}).
// B, BS and NS are not used by Sesame but are kept as they came (base64 and
// decimal strings), so an item written by another tool survives a
// read-modify-write. DynamoClient does GetItem, PutItem, UpdateItem and
// DeleteItem (with condition expressions), Scan page by page or whole,
// BatchWriteItem in chunks of 25 with UnprocessedItems retried, and
// CreateTable/DescribeTable/ListTables for set-up and tests. It owns an
// HttpClient and is NOT thread-safe: one per thread; the ServiceContext must
// outlive it. Failures throw AwsException after the context's retries
// (throttling and 5xx are retried, a missing table is not); a failed
// condition is a return value (false / nullopt), never an exception. A write
// retried after a lost answer may see its own earlier success as a failed
// condition (or add twice): DynamoDB's calls are not idempotent. A request
// that cannot be encoded (a string that is not UTF-8) throws
// std::invalid_argument and is not sent.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "aws/sdk/error.hpp"
#include "aws/sdk/http.hpp"
#include "aws/sdk/service.hpp"

namespace sesame::aws {

// One DynamoDB value. Only the member of its type is set; the others stay
// empty (the factories and from_json keep it so), so == compares values.
struct AttributeValue {
    enum class Type { S, N, B, BOOL, NUL, L, M, SS, NS, BS };
    Type type = Type::NUL;
    std::string text;                           // S; N (decimal, as written); B (base64, as sent)
    bool flag = false;                          // BOOL
    std::vector<AttributeValue> list;           // L
    std::map<std::string, AttributeValue> map;  // M
    std::set<std::string> set;                  // SS; NS (decimal strings); BS (base64)

    static AttributeValue S(std::string s);
    static AttributeValue N(std::string decimal);
    static AttributeValue N(long long n);
    static AttributeValue BOOL(bool b);
    static AttributeValue NUL();
    static AttributeValue L(std::vector<AttributeValue> l);
    static AttributeValue M(std::map<std::string, AttributeValue> m);
    static AttributeValue SS(std::set<std::string> s);

    friend bool operator==(const AttributeValue&, const AttributeValue&) = default;
};

using Item = std::map<std::string, AttributeValue>;
using ExpressionNames = std::map<std::string, std::string>;  // "#k" -> "pk"
using ExpressionValues = Item;                               // ":one" -> N 1

// DynamoDB's typed JSON. from_json throws std::invalid_argument for anything
// else (an unknown type, two types in one object, a value of the wrong JSON
// type, lists and maps nested deeper than DynamoDB's 32 levels). Items
// convert as JSON objects through nlohmann's map support.
void to_json(nlohmann::json& j, const AttributeValue& v);
void from_json(const nlohmann::json& j, AttributeValue& v);
// An Item from a JSON object of typed values (j.get<Item>() does not
// compile with clang: nlohmann's detection trips on the recursive type).
Item item_from_json(const nlohmann::json& j);

struct ScanPage {
    std::vector<Item> items;
    Item last_key;  // LastEvaluatedKey; empty on the last page
};

struct TableDescription {
    std::string name;
    std::string status;  // CREATING, ACTIVE, ...
    std::string key_attribute;
    std::string key_type;         // S, N, B
    std::string range_attribute;  // "" when the key is the hash key alone
    long long item_count = 0;
};

// A table's primary key: a hash key, and a range (sort) key when RANGE is set.
struct KeySchema {
    std::string hash;
    std::string hash_type = "S";
    std::string range;
    std::string range_type = "S";
};

class DynamoClient {
  public:
    // How many BatchWriteItem calls one chunk of 25 gets while DynamoDB keeps
    // items unprocessed; the backoff between them follows the context's policy.
    static constexpr int batch_attempts = 8;

    explicit DynamoClient(const ServiceContext& ctx, HttpOptions options = {});

    // The item with KEY, or nullopt when there is none.
    std::optional<Item> get_item(const std::string& table, const Item& key, bool consistent_read = true);
    // False when CONDITION failed (ConditionalCheckFailedException).
    bool put_item(const std::string& table, const Item& item, const std::string& condition = "",
                  const ExpressionNames& names = {}, const ExpressionValues& values = {});
    // The whole item after the update (ALL_NEW), or nullopt when CONDITION failed.
    std::optional<Item> update_item(const std::string& table, const Item& key, const std::string& update,
                                    const std::string& condition = "", const ExpressionNames& names = {},
                                    const ExpressionValues& values = {});
    // False when CONDITION failed; deleting a missing item without one is true.
    bool delete_item(const std::string& table, const Item& key, const std::string& condition = "",
                     const ExpressionNames& names = {}, const ExpressionValues& values = {});

    // One page from START_KEY (empty: the beginning); LIMIT 0: DynamoDB's (1 MB).
    ScanPage scan(const std::string& table, const Item& start_key = {}, int limit = 0, bool consistent_read = true);
    // Every item, following LastEvaluatedKey; PAGE_LIMIT as scan()'s LIMIT.
    std::vector<Item> scan_all(const std::string& table, int page_limit = 0, bool consistent_read = true);
    // The same, handing each page's items to EACH as the page arrives, so
    // that no more than one page is held at a time.
    void scan_each(const std::string& table, const std::function<void(std::vector<Item>&)>& each,
                   bool consistent_read = true);

    // Every item whose key matches KEY_CONDITION ("#h = :h"), following
    // LastEvaluatedKey, in range-key order.
    std::vector<Item> query_all(const std::string& table, const std::string& key_condition,
                                const ExpressionNames& names, const ExpressionValues& values,
                                bool consistent_read = true);

    // PUTS (whole items) and DELETES (keys) in chunks of 25, not atomically:
    // on failure, earlier chunks stay written. A key must not appear twice in
    // one chunk (DynamoDB refuses the batch). Throws AwsException (code
    // UnprocessedItems, kind throttling) saying how many items were left
    // unprocessed when DynamoDB keeps refusing some for batch_attempts calls.
    void batch_write(const std::string& table, const std::vector<Item>& puts, const std::vector<Item>& deletes = {});

    // A PAY_PER_REQUEST table with a hash key KEY_ATTRIBUTE of KEY_TYPE;
    // returns once it is ACTIVE (polled every 500 ms for at most WAIT).
    void create_table(const std::string& table, const std::string& key_attribute, const std::string& key_type = "S",
                      std::chrono::milliseconds wait = std::chrono::seconds(60));
    // The same with KEY's hash and range keys.
    void create_table(const std::string& table, const KeySchema& key,
                      std::chrono::milliseconds wait = std::chrono::seconds(60));
    // Turns on DynamoDB's Time to Live on ATTRIBUTE (Unix seconds).
    void enable_ttl(const std::string& table, const std::string& attribute);
    // nullopt when the table does not exist.
    std::optional<TableDescription> describe_table(const std::string& table);
    std::vector<std::string> list_tables();

    // For tests: replace the sleep between attempts (HTTP retries, batch
    // backoff, table polling); default this_thread::sleep_for.
    void set_sleep(std::function<void(std::chrono::milliseconds)> sleep);

  private:
    nlohmann::json call(const std::string& operation, const nlohmann::json& body);
    // One page of a Scan or Query (BODY without the start key), or all of them.
    ScanPage page(const std::string& operation, nlohmann::json body, const Item& start_key);
    void each_page(const std::string& operation, const nlohmann::json& body,
                   const std::function<void(std::vector<Item>&)>& each);
    std::vector<Item> all_pages(const std::string& operation, const nlohmann::json& body);
    // call(), or nullopt when DynamoDB answered ConditionalCheckFailedException.
    std::optional<nlohmann::json> call_conditional(const std::string& operation, const nlohmann::json& body);

    const ServiceContext& ctx_;
    HttpClient http_;
    std::function<void(std::chrono::milliseconds)> sleep_;
    std::mt19937_64 rng_;
};

}  // namespace sesame::aws
