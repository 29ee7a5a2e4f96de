// ingestd_processor_test.cpp - the pieces of sesame-ingest's processor that
// decide what happens to queue messages: which are deleted together
// (ReceiveBatch) and when a retried one comes back (retry_visibility).
// The whole path, against real emulators and Postfix, is e2e.ingest.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "aws/ingest/processor.hpp"

namespace {

using sesame::aws::SqsMessage;
using sesame::ingest::ReceiveBatch;
using sesame::ingest::retry_visibility;

SqsMessage message(const std::string& id)
{
    SqsMessage m;
    m.message_id = id;
    m.receipt_handle = "handle-" + id;
    return m;
}

std::vector<std::string> handles(const std::vector<SqsMessage>& ms)
{
    std::vector<std::string> out;
    for (const auto& m : ms) out.push_back(m.receipt_handle);
    std::sort(out.begin(), out.end());
    return out;
}

TEST(ReceiveBatch, OnlyTheLastToFinishGetsTheDeletes)
{
    ReceiveBatch batch(3);
    const SqsMessage a = message("a"), b = message("b"), c = message("c");
    EXPECT_TRUE(batch.finish(&a).empty());
    EXPECT_TRUE(batch.finish(&b).empty());
    EXPECT_EQ(handles(batch.finish(&c)), (std::vector<std::string>{"handle-a", "handle-b", "handle-c"}));
}

TEST(ReceiveBatch, MessagesLeftOrRetriedAreNotDeleted)
{
    ReceiveBatch batch(3);
    const SqsMessage a = message("a"), c = message("c");
    EXPECT_TRUE(batch.finish(&a).empty());
    EXPECT_TRUE(batch.finish(nullptr).empty());  // b: retry or left for the dead-letter queue
    EXPECT_EQ(handles(batch.finish(&c)), (std::vector<std::string>{"handle-a", "handle-c"}));
}

TEST(ReceiveBatch, NothingToDeleteWhenNoneIsDone)
{
    ReceiveBatch batch(2);
    EXPECT_TRUE(batch.finish(nullptr).empty());
    EXPECT_TRUE(batch.finish(nullptr).empty());
}

TEST(ReceiveBatch, WorkersFinishingTogetherDeleteEachMessageOnce)
{
    constexpr int kMessages = 10;
    ReceiveBatch batch(kMessages);
    std::vector<SqsMessage> ms;
    for (int i = 0; i < kMessages; ++i) ms.push_back(message(std::to_string(i)));
    std::vector<std::vector<SqsMessage>> got(kMessages);
    std::vector<std::thread> workers;
    for (int i = 0; i < kMessages; ++i) workers.emplace_back([&, i] { got[i] = batch.finish(&ms[i]); });
    for (auto& t : workers) t.join();
    int callers_with_deletes = 0;
    std::vector<SqsMessage> all;
    for (const auto& g : got) {
        if (!g.empty()) ++callers_with_deletes;
        all.insert(all.end(), g.begin(), g.end());
    }
    EXPECT_EQ(callers_with_deletes, 1);
    EXPECT_EQ(handles(all), handles(ms));
}

TEST(RetryVisibility, DoublesPerReceiveUpToFifteenMinutes)
{
    EXPECT_EQ(retry_visibility(1, 30), 30);
    EXPECT_EQ(retry_visibility(2, 30), 60);
    EXPECT_EQ(retry_visibility(4, 30), 240);
    EXPECT_EQ(retry_visibility(6, 30), 900);
    EXPECT_EQ(retry_visibility(1000, 30), 900);
    EXPECT_EQ(retry_visibility(0, 30), 30);  // no count from SQS: as the first receive
}

}  // namespace
