// aws_dynamodb_batch_test.cpp - BatchWriteItem's UnprocessedItems retry.
//
// A stand-in: DynamoDB leaves items unprocessed when a partition is
// throttled, and dynalite never does, so a loopback test server plays
// DynamoDB here and answers BatchWriteItem with UnprocessedItems. Everything
// else about the client is tested against dynalite (aws.dynamodb). The
// backoff sleeps are recorded, not slept.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/sdk/dynamodb.hpp"
#include "http_test_server.hpp"

namespace sesame::aws {
namespace {

using nlohmann::json;
using testenv::TestHttpServer;

class DynamoBatch : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ctx_.endpoint = "http://127.0.0.1:" + std::to_string(server_.port());
        ctx_.credentials = CredentialsProvider::fixed({"AKIDEXAMPLE", "secret", "", std::nullopt, "fixed"});
        client_ = std::make_unique<DynamoClient>(ctx_);
        client_->set_sleep([this](std::chrono::milliseconds d) { sleeps_.push_back(d); });
    }
    static std::vector<Item> items(int n)
    {
        std::vector<Item> out;
        for (int i = 0; i < n; ++i) out.push_back({{"pk", AttributeValue::S("k" + std::to_string(i))}});
        return out;
    }
    // The pk values of every PutRequest in request I.
    std::vector<std::string> sent_keys(std::size_t i) const
    {
        std::vector<std::string> keys;
        json body = json::parse(server_.requests().at(i).body);
        for (const auto& r : body["RequestItems"]["t"]) keys.push_back(r["PutRequest"]["Item"]["pk"]["S"]);
        return keys;
    }
    static std::string unprocessed(const std::vector<std::string>& keys)
    {
        json left = json::array();
        for (const auto& k : keys) left.push_back({{"PutRequest", {{"Item", {{"pk", {{"S", k}}}}}}}});
        return json{{"UnprocessedItems", {{"t", left}}}}.dump();
    }

    TestHttpServer server_;
    ServiceContext ctx_;
    std::unique_ptr<DynamoClient> client_;
    std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(DynamoBatch, UnprocessedItemsAreSentAgainAloneAfterABackoff)
{
    server_.script(200, unprocessed({"k3", "k7"}));
    server_.script(200, unprocessed({"k7"}));
    server_.script(200, R"({"UnprocessedItems":{}})");
    server_.script(200, R"({})");  // the second chunk of 25
    client_->batch_write("t", items(30));
    ASSERT_EQ(server_.requests().size(), 4u);
    EXPECT_EQ(server_.requests()[0].header("x-amz-target"), "DynamoDB_20120810.BatchWriteItem");
    EXPECT_EQ(sent_keys(0).size(), 25u) << "chunks of 25";
    EXPECT_EQ(sent_keys(1), (std::vector<std::string>{"k3", "k7"})) << "only what was left unprocessed";
    EXPECT_EQ(sent_keys(2), std::vector<std::string>{"k7"});
    EXPECT_EQ(sent_keys(3).size(), 5u) << "then the next chunk";
    EXPECT_EQ(sleeps_.size(), 2u) << "a backoff before each resend";
}

TEST_F(DynamoBatch, ItemsLeftUnprocessedTooOftenAreAnErrorThatSaysHowMany)
{
    server_.set_handler([&](const testenv::TestRequest&) { return testenv::TestReply{200, {}, unprocessed({"k1"})}; });
    try {
        client_->batch_write("t", items(30));
        FAIL() << "no exception";
    } catch (const AwsException& e) {
        EXPECT_EQ(e.error().code, "UnprocessedItems");
        EXPECT_TRUE(e.error().retryable()) << "throttling: worth trying again later";
        EXPECT_NE(std::string(e.what()).find("6 of 30 items left unprocessed"), std::string::npos) << e.what();
    }
    EXPECT_EQ(server_.requests().size(), static_cast<std::size_t>(DynamoClient::batch_attempts))
        << "gives up after batch_attempts calls, and sends nothing of the next chunk";
}

}  // namespace
}  // namespace sesame::aws
