// aws_error_threads_test.cpp - the first AWS error answers of a process,
// read on many threads at once, as sesame-ingest's workers do when S3
// starts throttling: each thread gets the right verdict. libxml2 2.9 makes
// its global state on first use without a lock; run under ThreadSanitizer
// (scripts/test.sh's TSan stage), this test fails if that first use is not
// made safe. Its own program, so that libxml2 is untouched when it starts.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "aws/sdk/error.hpp"

namespace sesame::aws {
namespace {

TEST(AwsErrorThreads, FirstXmlErrorsOnManyThreadsAtOnce)
{
    constexpr int kThreads = 8;
    std::atomic<int> waiting{kThreads};
    std::atomic<int> right{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&] {
            HttpResponse r;
            r.status = 503;
            r.body =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                "<Message>Please reduce your request rate.</Message></Error>";
            // All start parsing together: the first use of libxml2 is shared.
            waiting.fetch_sub(1);
            while (waiting.load() > 0) std::this_thread::yield();
            const AwsError e = parse_error(r);
            if (e.code == "SlowDown" && e.kind == AwsError::Kind::throttling && aws_retryable(r)) right.fetch_add(1);
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(right.load(), kThreads);
}

}  // namespace
}  // namespace sesame::aws
