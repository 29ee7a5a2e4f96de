// aws_dynamodb_json_test.cpp - DynamoDB's typed JSON as the client reads it:
// values nested as deep as DynamoDB allows (32 levels) are read, deeper ones
// are refused with std::invalid_argument (the store reports a bad item)
// rather than recursing without bound on an answer that is not DynamoDB's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "aws/sdk/dynamodb.hpp"

namespace sesame::aws {
namespace {

// {"v": {"L": [{"L": [ ... {"S": "leaf"} ... ]}]}} with LEVELS values from
// the attribute's own down to the string, built as text.
nlohmann::json nested_item(int levels)
{
    std::string text = "{\"v\":";
    for (int i = 1; i < levels; ++i) text += "{\"L\":[";
    text += "{\"S\":\"leaf\"}";
    for (int i = 1; i < levels; ++i) text += "]}";
    return nlohmann::json::parse(text + "}");
}

TEST(DynamoJson, ValuesNestedAsDeepAsDynamoDbAllowsAreRead)
{
    Item item = item_from_json(nested_item(32));
    const AttributeValue* v = &item.at("v");
    int levels = 1;
    while (v->type == AttributeValue::Type::L) {
        ASSERT_EQ(v->list.size(), 1u);
        v = &v->list.front();
        ++levels;
    }
    EXPECT_EQ(levels, 32);
    EXPECT_EQ(v->text, "leaf");
}

TEST(DynamoJson, ValuesNestedDeeperAreRefused)
{
    try {
        item_from_json(nested_item(33));
        FAIL() << "33 levels accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("nested deeper than 32 levels"), std::string::npos) << e.what();
    }
    // Far deeper than a thread's stack would survive without the limit.
    EXPECT_THROW(item_from_json(nested_item(200000)), std::invalid_argument);
}

// The refusal names the value without printing all of it: a deep value
// with two types is refused, and its message shows the keys only.
TEST(DynamoJson, ARefusalShowsTheValueShallowly)
{
    // (Built as text: copying a json value this deep would itself recurse.)
    std::string text = "{\"v\":{\"S\":\"x\",\"L\":";
    for (int i = 0; i < 200000; ++i) text += "[{\"L\":";
    text += "[]";
    for (int i = 0; i < 200000; ++i) text += "}]";
    try {
        item_from_json(nlohmann::json::parse(text + "}}"));
        FAIL() << "two types accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()),
                  "not a DynamoDB attribute value (not an object with exactly one type): {\"L\": ..., \"S\": \"x\"}");
    }
}

}  // namespace
}  // namespace sesame::aws
