// dynamo_store_test.cpp - the DynamoDB store against a real dynalite.
//
// Run by dynamodb_client.sh (dynalite from npm on a loopback port picked at
// run time, its URL in SESAME_TEST_DYNAMODB_ENDPOINT; skipped without it).
// Each test gets its own six tables, prefixed with the test's name, made by
// DynamoStore::init() as `sesame db init` makes them. Items in the older
// workers' shapes are written with the raw DynamoClient, never through the
// store, so the store is proven to read what other programs wrote.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aws/dynamodb/dynamo_store.hpp"
#include "aws/sdk/dynamodb.hpp"

namespace sesame::dynamodb {
namespace {

using aws::AttributeValue;
using AV = aws::AttributeValue;
using engine::StoreError;

class DynamoStoreTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        const char* endpoint = std::getenv("SESAME_TEST_DYNAMODB_ENDPOINT");
        if (!endpoint || !*endpoint) GTEST_SKIP() << "SESAME_TEST_DYNAMODB_ENDPOINT is not set";
        auto ctx = std::make_shared<aws::ServiceContext>();
        ctx->endpoint = endpoint;
        ctx->credentials = std::make_shared<aws::CredentialsProvider>();
        ctx_ = ctx;
        const std::string prefix = ::testing::UnitTest::GetInstance()->current_test_info()->name() + std::string("-");
        tables_.rules = prefix + tables_.rules;
        tables_.blocked_senders = prefix + tables_.blocked_senders;
        tables_.outbound = prefix + tables_.outbound;
        tables_.policy = prefix + tables_.policy;
        tables_.reply_state = prefix + tables_.reply_state;
        tables_.ingest_state = prefix + tables_.ingest_state;
        raw_ = std::make_unique<aws::DynamoClient>(*ctx_);
    }
    std::unique_ptr<DynamoStore> open() { return std::make_unique<DynamoStore>(ctx_, tables_); }
    std::unique_ptr<DynamoStore> init()
    {
        auto s = open();
        s->init();
        return s;
    }

    std::shared_ptr<const aws::ServiceContext> ctx_;
    Tables tables_;
    std::unique_ptr<aws::DynamoClient> raw_;
};

std::vector<std::string> keys_and_patterns(const std::vector<engine::BlockRule>& blocks)
{
    std::vector<std::string> out;
    for (const auto& b : blocks) out.push_back(b.key + " " + b.pattern);
    return out;
}

TEST_F(DynamoStoreTest, InitCreatesEveryTableOnceAndTheStoreRefusesMissingOnes)
{
    // Before init: a clear error that says what to do, not "no rules".
    try {
        open()->load_rules();
        FAIL() << "load_rules() on missing tables did not throw";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("sesame db init"), std::string::npos) << e.what();
    }
    auto first = open()->init();
    ASSERT_EQ(first.size(), 6u);
    for (const auto& line : first) EXPECT_NE(line.find(": created (key "), std::string::npos) << line;
    EXPECT_NE(first[3].find("key pk/sk"), std::string::npos) << first[3];
    auto second = open()->init();
    for (const auto& line : second) EXPECT_NE(line.find(": present (key "), std::string::npos) << line;
    EXPECT_EQ(open()->policy_version(), 0u);
    EXPECT_TRUE(open()->load_rules().blocks.empty());
}

TEST_F(DynamoStoreTest, PolicyWritesRoundTripAndMoveTheVersion)
{
    auto s = init();
    std::uint64_t v = s->policy_version();
    auto moved = [&] {
        std::uint64_t now = s->policy_version();
        bool m = now > v;
        v = now;
        return m;
    };
    EXPECT_TRUE(s->add_domain("example.com"));
    EXPECT_TRUE(moved());
    EXPECT_FALSE(s->add_domain("example.com"));
    EXPECT_FALSE(moved());
    EXPECT_TRUE(s->add_block("@example.com", "*@spam.com"));
    EXPECT_TRUE(moved());
    EXPECT_FALSE(s->add_block("@example.com", "*@spam.com"));
    EXPECT_TRUE(s->add_block("*", "<>"));
    engine::ForwardRule fw{{"carol@elsewhere.org", "dave@example.com"}, engine::ForwardMode::redirect, false};
    s->set_forward("bob@example.com", fw);
    EXPECT_TRUE(moved());
    engine::OooRule ooo;
    ooo.subject = "Away";
    ooo.text = "I am away.";
    ooo.html = "<p>I am away.</p>";
    ooo.start = 1700000000;
    ooo.until = 1700600000;
    ooo.interval_days = 3;
    s->set_ooo("bob@example.com", ooo);
    EXPECT_TRUE(moved());

    // A second handle (another process) sees all of it.
    engine::RuleSet r = open()->load_rules();
    EXPECT_EQ(r.version, v);
    EXPECT_EQ(r.domains, std::vector<std::string>{"example.com"});
    EXPECT_EQ(keys_and_patterns(r.blocks), (std::vector<std::string>{"* <>", "@example.com *@spam.com"}));
    ASSERT_EQ(r.forwards.count("bob@example.com"), 1u);
    const auto& f = r.forwards.at("bob@example.com");
    EXPECT_EQ(f.targets, fw.targets);
    EXPECT_EQ(f.mode, engine::ForwardMode::redirect);
    EXPECT_FALSE(f.keep_copy);
    ASSERT_EQ(r.ooo.count("bob@example.com"), 1u);
    const auto& o = r.ooo.at("bob@example.com");
    EXPECT_TRUE(o.active);
    EXPECT_EQ(o.subject, "Away");
    EXPECT_EQ(o.text, "I am away.");
    EXPECT_EQ(o.html, "<p>I am away.</p>");
    EXPECT_EQ(o.start, ooo.start);
    EXPECT_EQ(o.until, ooo.until);
    EXPECT_EQ(o.interval_days, 3);

    // The rule item carries the older workers' attributes too.
    auto item = raw_->get_item(tables_.rules, {{kAddressKey, AV::S("bob@example.com")}});
    ASSERT_TRUE(item);
    EXPECT_EQ(item->at("ooo_active"), AV::BOOL(true));
    EXPECT_EQ(item->at("ooo_message"), AV::S("I am away."));
    EXPECT_EQ(item->at("content_type"), AV::S("text/plain"));
    EXPECT_EQ(item->at("forwards"), AV::L({AV::S("carol@elsewhere.org"), AV::S("dave@example.com")}));

    EXPECT_TRUE(s->clear_forward("bob@example.com"));
    EXPECT_TRUE(moved());
    EXPECT_FALSE(s->clear_forward("bob@example.com"));
    EXPECT_FALSE(moved());
    EXPECT_TRUE(s->clear_ooo("bob@example.com"));
    EXPECT_FALSE(s->clear_ooo("bob@example.com"));
    EXPECT_TRUE(s->remove_block("@example.com", "*@spam.com"));
    EXPECT_FALSE(s->remove_block("@example.com", "*@spam.com"));
    EXPECT_TRUE(s->remove_domain("example.com"));
    EXPECT_FALSE(s->remove_domain("example.com"));
    r = s->load_rules();
    EXPECT_TRUE(r.domains.empty());
    EXPECT_EQ(keys_and_patterns(r.blocks), std::vector<std::string>{"* <>"});
    EXPECT_TRUE(r.forwards.empty());
    EXPECT_TRUE(r.ooo.empty());
}

TEST_F(DynamoStoreTest, OlderWorkersItemsAreReadAsTheyAre)
{
    auto s = init();
    // As the older workers wrote them: lists, a string set, a mixed-case
    // key, an HTML-only reply, a target that is no address.
    raw_->put_item(tables_.blocked_senders,
                   {{kAddressKey, AV::S("Alice@Example.com")},
                    {"blocked_patterns", AV::L({AV::S("*@Spam.com"), AV::S("boss@corp.example")})}});
    raw_->put_item(tables_.blocked_senders,
                   {{kAddressKey, AV::S("bob@example.com")}, {"blocked_patterns", AV::SS({"*@a.test", "*@b.test"})}});
    raw_->put_item(tables_.rules, {{kAddressKey, AV::S("alice@example.com")},
                                   {"forwards", AV::L({AV::S("alice@gmail.example"), AV::S("not an address")})},
                                   {"ooo_active", AV::BOOL(true)},
                                   {"ooo_message", AV::S("<p>Back Monday</p>")},
                                   {"content_type", AV::S("text/html; charset=utf-8")}});
    raw_->put_item(tables_.rules, {{kAddressKey, AV::S("carol@example.com")},
                                   {"ooo_active", AV::BOOL(false)},
                                   {"ooo_message", AV::S("Off")},
                                   {"content_type", AV::S("text/plain")}});

    engine::RuleSet r = s->load_rules();
    EXPECT_EQ(keys_and_patterns(r.blocks),
              (std::vector<std::string>{"alice@example.com *@spam.com", "alice@example.com boss@corp.example",
                                        "bob@example.com *@a.test", "bob@example.com *@b.test"}));
    ASSERT_EQ(r.forwards.count("alice@example.com"), 1u);
    EXPECT_EQ(r.forwards.at("alice@example.com").targets, std::vector<std::string>{"alice@gmail.example"});
    EXPECT_EQ(r.forwards.at("alice@example.com").mode, engine::ForwardMode::resend);  // what the older workers do
    EXPECT_TRUE(r.forwards.at("alice@example.com").keep_copy);
    ASSERT_EQ(r.ooo.count("alice@example.com"), 1u);
    EXPECT_TRUE(r.ooo.at("alice@example.com").active);
    EXPECT_EQ(r.ooo.at("alice@example.com").html, "<p>Back Monday</p>");
    EXPECT_EQ(r.ooo.at("alice@example.com").text, "");
    EXPECT_EQ(r.ooo.at("alice@example.com").interval_days, 7);
    ASSERT_EQ(r.ooo.count("carol@example.com"), 1u);
    EXPECT_FALSE(r.ooo.at("carol@example.com").active);

    // Sesame's own additions sit beside them; removing works on both.
    EXPECT_FALSE(s->add_block("bob@example.com", "*@a.test"));  // already in the older list
    EXPECT_TRUE(s->add_block("bob@example.com", "*@c.test"));
    EXPECT_EQ(
        keys_and_patterns(s->blocks(std::string("bob@example.com"))),
        (std::vector<std::string>{"bob@example.com *@a.test", "bob@example.com *@b.test", "bob@example.com *@c.test"}));
    EXPECT_TRUE(s->remove_block("bob@example.com", "*@a.test"));
    auto bob = raw_->get_item(tables_.blocked_senders, {{kAddressKey, AV::S("bob@example.com")}});
    ASSERT_TRUE(bob);
    EXPECT_EQ(bob->at("blocked_patterns"), AV::SS({"*@b.test"}));
    raw_->put_item(tables_.blocked_senders,
                   {{kAddressKey, AV::S("dave@example.com")},
                    {"blocked_patterns", AV::L({AV::S("*@x.test"), AV::S("*@y.test"), AV::S("*@z.test")})}});
    const std::uint64_t before = s->policy_version();
    EXPECT_TRUE(s->remove_block("dave@example.com", "*@y.test"));
    EXPECT_GT(s->policy_version(), before);
    auto dave = raw_->get_item(tables_.blocked_senders, {{kAddressKey, AV::S("dave@example.com")}});
    ASSERT_TRUE(dave);
    EXPECT_EQ(dave->at("blocked_patterns"), AV::L({AV::S("*@x.test"), AV::S("*@z.test")}));
}

TEST_F(DynamoStoreTest, AnOlderTableKeyedByAnotherAttributeIsReadToo)
{
    tables_.rules += "-address";
    raw_->create_table(tables_.rules, "address");
    raw_->put_item(tables_.rules, {{"address", AV::S("erin@example.com")}, {"forwards", AV::S("erin@home.example")}});
    auto s = init();
    engine::RuleSet r = s->load_rules();
    ASSERT_EQ(r.forwards.count("erin@example.com"), 1u);
    EXPECT_EQ(r.forwards.at("erin@example.com").targets, std::vector<std::string>{"erin@home.example"});
    s->set_forward("erin@example.com", {{"erin@work.example"}, engine::ForwardMode::redirect, true});
    auto item = raw_->get_item(tables_.rules, {{"address", AV::S("erin@example.com")}});
    ASSERT_TRUE(item);
    EXPECT_EQ(item->at("forwards"), AV::L({AV::S("erin@work.example")}));
}

TEST_F(DynamoStoreTest, ImportAddsOnlyNewPatternsInBatches)
{
    auto s = init();
    raw_->put_item(tables_.blocked_senders,
                   {{kAddressKey, AV::S("*")}, {"blocked_patterns", AV::L({AV::S("*@old.test")})}});
    std::vector<std::string> patterns;
    for (int i = 0; i < 1000; ++i) patterns.push_back("*@bulk" + std::to_string(i) + ".test");
    patterns.push_back("*@bulk7.test");  // twice in the file
    patterns.push_back("*@old.test");    // already in the older list
    const std::uint64_t before = s->policy_version();
    EXPECT_EQ(s->import_blocks("*", patterns), 1000u);
    EXPECT_EQ(s->policy_version(), before + 1);  // one bump for the whole import
    EXPECT_EQ(s->import_blocks("*", patterns), 0u);
    EXPECT_EQ(s->policy_version(), before + 1);
    EXPECT_EQ(open()->load_rules().blocks.size(), 1001u);
}

TEST_F(DynamoStoreTest, OneReplyPerIntervalAcrossConnectionsRacing)
{
    init();
    constexpr int kRacers = 8;
    std::vector<std::unique_ptr<DynamoStore>> stores;
    for (int i = 0; i < kRacers; ++i) stores.push_back(open());
    std::atomic<int> won{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers; ++i)
        threads.emplace_back([&, i] {
            while (!go) std::this_thread::yield();
            if (stores[i]->record_reply_if_due("bob@example.com", "eve@sender.test", 1000000, 7 * 86400)) ++won;
        });
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(stores[0]->last_reply("bob@example.com", "eve@sender.test"), 1000000);
    // Within the interval: no; once it has passed: yes, and recorded.
    EXPECT_FALSE(stores[1]->record_reply_if_due("bob@example.com", "eve@sender.test", 1000000 + 86400, 7 * 86400));
    EXPECT_TRUE(stores[1]->record_reply_if_due("bob@example.com", "eve@sender.test", 1000000 + 7 * 86400, 7 * 86400));
    EXPECT_EQ(stores[0]->last_reply("bob@example.com", "eve@sender.test"), 1000000 + 7 * 86400);
    EXPECT_EQ(stores[0]->last_reply("bob@example.com", "other@sender.test"), std::nullopt);
    auto item = raw_->get_item(tables_.reply_state,
                               {{"mailbox", AV::S("bob@example.com")}, {"sender", AV::S("eve@sender.test")}});
    ASSERT_TRUE(item);
    EXPECT_TRUE(item->count("expires_at")) << "no TTL attribute";
}

TEST_F(DynamoStoreTest, IngestStateAndOutboundRecords)
{
    auto s = init();
    EXPECT_TRUE(s->ingest_outcomes("ses-1").empty());
    s->record_ingest_outcomes("ses-1",
                              {{"a@example.com", "delivered", "250 ok"},
                               {"b@example.com", "blocked", ""},
                               {"a@example.com", "refused", "550 no"}},
                              1000);
    auto out = open()->ingest_outcomes("ses-1");
    EXPECT_EQ(out, (std::map<std::string, std::string>{{"a@example.com", "refused"}, {"b@example.com", "blocked"}}));

    EXPECT_FALSE(s->outbound("0100-abc"));
    s->record_outbound({"0100-abc", "alice@example.com", {"x@remote.test", "y@remote.test"}, 5000, {}});
    s->add_bounced("0100-abc", {"x@remote.test"});
    s->add_bounced("0100-abc", {"x@remote.test"});
    s->add_bounced("unknown-id", {"x@remote.test"});  // no-op
    auto rec = open()->outbound("0100-abc");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->original_source, "alice@example.com");
    EXPECT_EQ(rec->destination, (std::vector<std::string>{"x@remote.test", "y@remote.test"}));
    EXPECT_EQ(rec->sent_at, 5000);
    EXPECT_EQ(rec->bounced_recipients, std::vector<std::string>{"x@remote.test"});
    // An older worker's record, with its camel-case list as a string set.
    raw_->put_item(tables_.outbound, {{kMessageIdKey, AV::S("0100-old")},
                                      {"original_source", AV::S("carol@example.com")},
                                      {"bouncedRecipients", AV::SS({"z@remote.test"})}});
    rec = s->outbound("0100-old");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->original_source, "carol@example.com");
    EXPECT_EQ(rec->bounced_recipients, std::vector<std::string>{"z@remote.test"});
}

}  // namespace
}  // namespace sesame::dynamodb
