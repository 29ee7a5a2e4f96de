// dynamodb_client_test.cpp - DynamoClient against a real DynamoDB emulator.
//
// Run by dynamodb_client.sh, which starts dynalite (npm, pinned in
// package.json) on a loopback port picked at run time and passes its URL in
// SESAME_TEST_DYNAMODB_ENDPOINT; credentials come from the usual chain
// (dummy keys in the environment: dynalite checks no signature). Without
// the variable the emulator tests skip; the pure ones (the typed JSON, the
// error shapes) always run. Each test creates its own table, named after
// the test. The sleep between attempts is replaced by a recorder, so "not
// retried" is counted, not timed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "aws/sdk/dynamodb.hpp"

namespace sesame::aws {

// Failures print values as DynamoDB's JSON (found by ADL, so not in the
// unnamed namespace).
void PrintTo(const AttributeValue& v, std::ostream* os)
{
    *os << nlohmann::json(v).dump();
}

namespace {

using AV = AttributeValue;
using nlohmann::json;

Item key_of(const std::string& pk)
{
    return {{"pk", AV::S(pk)}};
}

class DynamoTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        const char* endpoint = std::getenv("SESAME_TEST_DYNAMODB_ENDPOINT");
        if (!endpoint || !*endpoint) GTEST_SKIP() << "SESAME_TEST_DYNAMODB_ENDPOINT is not set";
        ctx_.endpoint = endpoint;
        if (const char* region = std::getenv("AWS_REGION"); region && *region) ctx_.region = region;
        ctx_.credentials = std::make_shared<CredentialsProvider>();
        client_ = std::make_unique<DynamoClient>(ctx_);
        client_->set_sleep([this](std::chrono::milliseconds d) { sleeps_.push_back(d); });
        table_ = std::string("sesame-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
        client_->create_table(table_, "pk");
        // dynalite may still say CREATING to a DescribeTable that follows at
        // once on the same connection: create_table polls, and that is no retry.
        sleeps_.clear();
    }

    ServiceContext ctx_;
    std::unique_ptr<DynamoClient> client_;
    std::vector<std::chrono::milliseconds> sleeps_;
    std::string table_;
};

// Every pk in ITEMS, failing on a duplicate.
std::set<std::string> keys_of(const std::vector<Item>& items)
{
    std::set<std::string> keys;
    for (const auto& i : items) {
        auto it = i.find("pk");
        EXPECT_NE(it, i.end());
        if (it == i.end()) continue;
        EXPECT_TRUE(keys.insert(it->second.text).second) << "pk " << it->second.text << " seen twice";
    }
    return keys;
}

TEST(AttributeValueJson, WritesDynamoDbTypedJson)
{
    json j =
        AV::L({AV::S("a"), AV::N("0.10"), AV::BOOL(false), AV::NUL(), AV::SS({"y", "x"}), AV::M({{"k", AV::L({})}})});
    EXPECT_EQ(j, json::parse(R"({"L":[{"S":"a"},{"N":"0.10"},{"BOOL":false},{"NULL":true},{"SS":["x","y"]},
                                      {"M":{"k":{"L":[]}}}]})"));
    Item item = {{"pk", AV::S("x")}, {"n", AV::N(-42)}};
    EXPECT_EQ(json(item), json::parse(R"({"pk":{"S":"x"},"n":{"N":"-42"}})"));
}

TEST(AttributeValueJson, ReadsBackWhatItWrites)
{
    Item item = {{"s", AV::S("grüße")}, {"l", AV::L({AV::M({{"x", AV::N("1e3")}}), AV::NUL()})}};
    EXPECT_EQ(item_from_json(json(item)), item);
}

TEST(AttributeValueJson, KeepsBinaryAndNumberSetsAsTheyCame)
{
    json j = json::parse(R"({"b":{"B":"aGk="},"bs":{"BS":["AQ==","Ag=="]},"ns":{"NS":["1","2.5"]}})");
    Item item = item_from_json(j);
    EXPECT_EQ(item["b"].type, AV::Type::B);
    EXPECT_EQ(item["b"].text, "aGk=");
    EXPECT_EQ(item["ns"].type, AV::Type::NS);
    EXPECT_EQ(item["ns"].set, (std::set<std::string>{"1", "2.5"}));
    EXPECT_EQ(json(item), j);
}

TEST(AttributeValueJson, RefusesWhatIsNotTypedJson)
{
    for (const char* bad :
         {R"({})", R"({"S":"a","N":"1"})", R"({"X":"1"})", R"({"S":1})", R"({"N":1})", R"({"NULL":false})",
          R"({"BOOL":"true"})", R"({"L":{}})", R"({"SS":[1]})", R"("a")", R"({"L":[{"Q":"x"}]})"}) {
        SCOPED_TRACE(bad);
        AV v;
        EXPECT_THROW(from_json(json::parse(bad), v), std::invalid_argument);
    }
}

TEST(DynamoRequests, AStringThatIsNotUtf8IsRefusedBeforeSending)
{
    ServiceContext ctx;
    ctx.endpoint = "http://127.0.0.1:1";  // never reached
    ctx.credentials = CredentialsProvider::fixed({"test", "test", "", std::nullopt, ""});
    DynamoClient client(ctx);
    int sleeps = 0;
    client.set_sleep([&](std::chrono::milliseconds) { ++sleeps; });
    EXPECT_THROW(client.put_item("t", {{"pk", AV::S("caf\xe9")}}), std::invalid_argument);
    EXPECT_EQ(sleeps, 0);
}

HttpResponse answer(long status, const std::string& body)
{
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

TEST(DynamoErrors, ReadsTheCodeAfterTheHash)
{
    AwsError e = parse_error(answer(
        400,
        R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"})"));
    EXPECT_EQ(e.code, "ConditionalCheckFailedException");
    EXPECT_EQ(e.message, "The conditional request failed");
    EXPECT_EQ(e.kind, AwsError::Kind::client);
    EXPECT_FALSE(e.retryable());
}

TEST(DynamoErrors, ThrottlingIsRetried)
{
    for (const char* code : {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}) {
        SCOPED_TRACE(code);
        HttpResponse r =
            answer(400, std::string(R"({"__type":"com.amazonaws.dynamodb.v20120810#)") + code + R"(","message":"x"})");
        EXPECT_EQ(parse_error(r).kind, AwsError::Kind::throttling);
        EXPECT_TRUE(aws_retryable(r));
    }
}

TEST_F(DynamoTest, PutGetRoundTripsEveryType)
{
    Item item = {
        {"pk", AV::S("round-trip")},
        {"unicode", AV::S("Grüße, 日本語, emoji 📬, quote \" backslash \\ tab\t")},
        {"tenth", AV::N("0.1")},
        {"big", AV::N("-12345678901234567890.123456789")},
        {"zero", AV::N(0)},
        {"yes", AV::BOOL(true)},
        {"no", AV::BOOL(false)},
        {"nothing", AV::NUL()},
        {"list", AV::L({AV::S("a"), AV::N("2"), AV::L({AV::S("nested"), AV::L({})}),
                        AV::M({{"deep", AV::M({{"deeper", AV::L({AV::BOOL(true), AV::NUL()})}})}})})},
        {"map", AV::M({{"sender", AV::S("*@spam.example")}, {"ü", AV::SS({"x", "ÿ"})}, {"empty", AV::M({})}})},
        {"set", AV::SS({"b", "a", "日"})},
    };
    // B, BS and NS are kept as they came (not used by Sesame).
    Item other = item_from_json(
        json::parse(R"({"bin":{"B":"aGVsbG8="},"bins":{"BS":["AQ==","Ag=="]},"nums":{"NS":["1","2.5"]}})"));
    item.insert(other.begin(), other.end());
    ASSERT_TRUE(client_->put_item(table_, item));
    std::optional<Item> got = client_->get_item(table_, key_of("round-trip"));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(json(*got).dump(), json(item).dump());
    EXPECT_EQ(*got, item);
    EXPECT_EQ((*got)["tenth"].text, "0.1");
}

TEST_F(DynamoTest, MissingItemIsNullopt)
{
    EXPECT_EQ(client_->get_item(table_, key_of("nobody")), std::nullopt);
    EXPECT_EQ(client_->get_item(table_, key_of("nobody"), false), std::nullopt);
}

TEST_F(DynamoTest, ConditionalPutSucceedsOnceThenReturnsFalse)
{
    const ExpressionNames names = {{"#k", "pk"}};
    EXPECT_TRUE(client_->put_item(table_, {{"pk", AV::S("once")}, {"v", AV::N(1)}}, "attribute_not_exists(#k)", names));
    EXPECT_FALSE(
        client_->put_item(table_, {{"pk", AV::S("once")}, {"v", AV::N(2)}}, "attribute_not_exists(#k)", names));
    std::optional<Item> got = client_->get_item(table_, key_of("once"));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ((*got)["v"], AV::N(1)) << "the refused put must not have written";
    // A condition on values: replace only when v is still 1.
    EXPECT_TRUE(client_->put_item(table_, {{"pk", AV::S("once")}, {"v", AV::N(3)}}, "#v = :old", {{"#v", "v"}},
                                  {{":old", AV::N(1)}}));
    EXPECT_EQ(client_->get_item(table_, key_of("once")).value()["v"], AV::N(3));
    EXPECT_TRUE(sleeps_.empty()) << "a failed condition is not retried";
}

TEST_F(DynamoTest, UpdateItemCountsUpToTheCondition)
{
    const ExpressionNames names = {{"#n", "n"}, {"#s", "seen"}};
    const ExpressionValues values = {{":one", AV::N(1)}, {":max", AV::N(3)}, {":s", AV::S("x@example.com")}};
    const std::string update = "ADD #n :one SET #s = :s";
    const std::string condition = "attribute_not_exists(#n) OR #n < :max";
    for (int expected = 1; expected <= 3; ++expected) {
        std::optional<Item> now = client_->update_item(table_, key_of("counter"), update, condition, names, values);
        ASSERT_TRUE(now.has_value()) << "update " << expected;
        Item want = {{"pk", AV::S("counter")}, {"n", AV::N(expected)}, {"seen", AV::S("x@example.com")}};
        EXPECT_EQ(*now, want) << "ALL_NEW returns the whole item";
    }
    EXPECT_EQ(client_->update_item(table_, key_of("counter"), update, condition, names, values), std::nullopt);
    EXPECT_EQ(client_->get_item(table_, key_of("counter")).value()["n"], AV::N(3));
}

TEST_F(DynamoTest, DeleteItem)
{
    ASSERT_TRUE(client_->put_item(table_, {{"pk", AV::S("gone")}, {"v", AV::S("x")}}));
    const ExpressionNames names = {{"#v", "v"}};
    EXPECT_FALSE(client_->delete_item(table_, key_of("gone"), "#v = :v", names, {{":v", AV::S("y")}}));
    EXPECT_TRUE(client_->get_item(table_, key_of("gone")).has_value()) << "a refused delete must not delete";
    EXPECT_TRUE(client_->delete_item(table_, key_of("gone"), "#v = :v", names, {{":v", AV::S("x")}}));
    EXPECT_EQ(client_->get_item(table_, key_of("gone")), std::nullopt);
    EXPECT_TRUE(client_->delete_item(table_, key_of("gone"))) << "deleting a missing item is no error";
    EXPECT_FALSE(client_->delete_item(table_, key_of("gone"), "attribute_exists(#k)", {{"#k", "pk"}}));
}

TEST_F(DynamoTest, ScanAllFollowsEveryPage)
{
    constexpr int count = 250, limit = 40;
    std::set<std::string> written;
    for (int i = 0; i < count; ++i) {
        std::string pk = "item-" + std::to_string(i);
        ASSERT_TRUE(client_->put_item(table_, {{"pk", AV::S(pk)}, {"i", AV::N(i)}}));
        written.insert(pk);
    }
    // Paging really happens at this limit.
    ScanPage first = client_->scan(table_, {}, limit);
    EXPECT_EQ(first.items.size(), static_cast<std::size_t>(limit));
    EXPECT_FALSE(first.last_key.empty());
    ScanPage second = client_->scan(table_, first.last_key, limit);
    EXPECT_EQ(second.items.size(), static_cast<std::size_t>(limit));
    std::vector<Item> both = first.items;
    both.insert(both.end(), second.items.begin(), second.items.end());
    EXPECT_EQ(keys_of(both).size(), static_cast<std::size_t>(2 * limit)) << "the second page goes on, not over";

    std::vector<Item> all = client_->scan_all(table_, limit);
    EXPECT_EQ(all.size(), static_cast<std::size_t>(count));
    EXPECT_EQ(keys_of(all), written);
    for (const auto& item : all) EXPECT_EQ(item.at("pk").text, "item-" + item.at("i").text);
    EXPECT_EQ(client_->scan_all(table_).size(), static_cast<std::size_t>(count)) << "one page, no limit";
}

TEST_F(DynamoTest, BatchWritePutsThenDeletes)
{
    std::vector<Item> puts, keys;
    std::set<std::string> written;
    for (int i = 0; i < 60; ++i) {
        std::string pk = "batch-" + std::to_string(i);
        puts.push_back({{"pk", AV::S(pk)}, {"rule", AV::L({AV::S("*@spam.example"), AV::N(i)})}});
        keys.push_back(key_of(pk));
        written.insert(pk);
    }
    client_->batch_write(table_, puts);
    std::vector<Item> all = client_->scan_all(table_);
    EXPECT_EQ(keys_of(all), written);
    EXPECT_EQ(client_->get_item(table_, key_of("batch-59")), puts[59]);

    // 60 deletes and, in the same call, puts of other keys.
    std::vector<Item> fresh = {{{"pk", AV::S("kept-1")}}, {{"pk", AV::S("kept-2")}}};
    client_->batch_write(table_, fresh, keys);
    EXPECT_EQ(keys_of(client_->scan_all(table_)), (std::set<std::string>{"kept-1", "kept-2"}));
    client_->batch_write(table_, {}, {});  // nothing to do: no call
    EXPECT_TRUE(sleeps_.empty()) << "nothing was left unprocessed";
}

TEST_F(DynamoTest, TablesCanBeDescribedAndListed)
{
    std::optional<TableDescription> d = client_->describe_table(table_);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->name, table_);
    EXPECT_EQ(d->status, "ACTIVE");
    EXPECT_EQ(d->key_attribute, "pk");
    EXPECT_EQ(d->key_type, "S");
    EXPECT_EQ(client_->describe_table(table_ + "-missing"), std::nullopt);
    std::vector<std::string> names = client_->list_tables();
    EXPECT_NE(std::find(names.begin(), names.end(), table_), names.end());
    try {
        client_->create_table(table_, "pk");
        ADD_FAILURE() << "creating an existing table must fail";
    } catch (const AwsException& e) {
        EXPECT_EQ(e.error().code, "ResourceInUseException");
    }
}

TEST_F(DynamoTest, MissingTableIsResourceNotFoundAndNotRetried)
{
    const std::string missing = table_ + "-missing";
    try {
        client_->get_item(missing, key_of("x"));
        ADD_FAILURE() << "get_item on a missing table must throw";
    } catch (const AwsException& e) {
        EXPECT_EQ(e.error().code, "ResourceNotFoundException");
        EXPECT_EQ(e.error().status, 400);
        EXPECT_FALSE(e.error().retryable());
        EXPECT_EQ(e.operation(), "DynamoDB GetItem");
        EXPECT_NE(std::string(e.what()).find("ResourceNotFoundException"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(sleeps_.empty()) << "a missing table is not retried";
    // The conditional calls do not swallow it into "condition failed".
    EXPECT_THROW(client_->put_item(missing, key_of("x"), "attribute_not_exists(#k)", {{"#k", "pk"}}), AwsException);
    EXPECT_THROW(client_->update_item(missing, key_of("x"), "SET #v = :v", "", {{"#v", "v"}}, {{":v", AV::N(1)}}),
                 AwsException);
    EXPECT_THROW(client_->scan_all(missing), AwsException);
    EXPECT_THROW(client_->batch_write(missing, {key_of("x")}), AwsException);
    EXPECT_TRUE(sleeps_.empty());
}

}  // namespace
}  // namespace sesame::aws
