// daemon_metrics_test.cpp - the metrics registry as Prometheus reads it.
//
// Counters and functions render with their HELP/TYPE once per family,
// labels escaped; a histogram's buckets are cumulative and end with +Inf,
// _sum and _count; the same series declared twice is one series; the
// MailMetrics set refuses a verdict it did not declare. The rendered text
// of a realistic registry passes `promtool check metrics` (the prometheus
// Debian package, installed by scripts/lib.sh).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "policy/daemon/metrics.hpp"

namespace sesame::metrics {
namespace {

bool has(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

TEST(Metrics, CountersAndFunctionsRenderByFamily)
{
    Registry r;
    Counter& a = r.counter("x_total", "Things.", {{"kind", "a"}});
    Counter& b = r.counter("x_total", "Things.", {{"kind", "b \"quoted\"\\\n"}});
    a.inc();
    a.inc(2);
    b.inc();
    double level = 2.5;
    r.gauge("y", "A level.", {}, [&level] { return level; });
    EXPECT_EQ(&r.counter("x_total", "Things.", {{"kind", "a"}}), &a) << "the same series twice is one";
    const std::string text = r.render();
    EXPECT_EQ(text,
              "# HELP x_total Things.\n# TYPE x_total counter\n"
              "x_total{kind=\"a\"} 3\n"
              "x_total{kind=\"b \\\"quoted\\\"\\\\\\n\"} 1\n"
              "# HELP y A level.\n# TYPE y gauge\ny 2.5\n");
    level = 7;
    EXPECT_TRUE(has(r.render(), "\ny 7\n")) << "read at scrape time";
}

TEST(Metrics, HistogramBucketsAreCumulative)
{
    Registry r;
    Histogram& h = r.histogram("t_seconds", "Time.", {0.01, 0.1, 1}, {{"path", "milter"}});
    for (double s : {0.005, 0.05, 0.05, 0.5, 5.0}) h.observe(s);
    const std::string text = r.render();
    EXPECT_TRUE(has(text, "# TYPE t_seconds histogram\n")) << text;
    EXPECT_TRUE(has(text, "t_seconds_bucket{path=\"milter\",le=\"0.01\"} 1\n")) << text;
    EXPECT_TRUE(has(text, "t_seconds_bucket{path=\"milter\",le=\"0.1\"} 3\n")) << text;
    EXPECT_TRUE(has(text, "t_seconds_bucket{path=\"milter\",le=\"1\"} 4\n")) << text;
    EXPECT_TRUE(has(text, "t_seconds_bucket{path=\"milter\",le=\"+Inf\"} 5\n")) << text;
    EXPECT_TRUE(has(text, "t_seconds_count{path=\"milter\"} 5\n")) << text;
    EXPECT_NEAR(h.sum(), 5.605, 1e-6);
}

TEST(Metrics, CountsFromManyThreadsAddUp)
{
    Registry r;
    Counter& c = r.counter("n_total", "N.");
    Histogram& h = r.histogram("h_seconds", "H.", default_seconds_buckets());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                c.inc();
                h.observe(0.003);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), 40000u);
    EXPECT_EQ(h.count(), 40000u);
}

TEST(Metrics, MailMetricsKnowTheirVerdicts)
{
    Registry r;
    int in_flight = 3;
    MailMetrics m(r, "milter", {"delivered", "blocked"}, [&] { return in_flight; });
    m.messages("blocked").inc();
    m.blocked.inc(2);
    m.forwards.inc();
    EXPECT_THROW(m.messages("lost"), std::logic_error);
    const std::string text = r.render();
    EXPECT_TRUE(has(text, "sesame_messages_total{path=\"milter\",verdict=\"blocked\"} 1\n")) << text;
    EXPECT_TRUE(has(text, "sesame_messages_total{path=\"milter\",verdict=\"delivered\"} 0\n")) << text;
    EXPECT_TRUE(has(text, "sesame_recipients_blocked_total{path=\"milter\"} 2\n")) << text;
    EXPECT_TRUE(has(text, "sesame_forwards_total{path=\"milter\",result=\"sent\"} 1\n")) << text;
    EXPECT_TRUE(has(text, "sesame_forwards_total{path=\"milter\",result=\"failed\"} 0\n")) << text;
    EXPECT_TRUE(has(text, "sesame_messages_in_flight{path=\"milter\"} 3\n")) << text;
}

TEST(Metrics, PromtoolAcceptsTheText)
{
    Registry r;
    MailMetrics m(r, "ingest", {"delivered", "deferred"}, [] { return 0; });
    m.messages("delivered").inc(5);
    m.processing.observe(0.02);
    r.gauge("sesame_queue_depth", "Messages waiting.", {{"queue", "example-com-inbound"}, {"domain", "example.com"}},
            [] { return 12; });
    const std::string text = r.render();
    const std::string path = ::testing::TempDir() + "sesame-metrics.txt";
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "w"), &std::fclose);
    ASSERT_TRUE(f);
    std::fputs(text.c_str(), f.get());
    f.reset();
    const std::string cmd = "promtool check metrics < " + path + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), &::pclose);
    ASSERT_TRUE(p);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p.get())) out += buf;
    const int status = ::pclose(p.release());
    EXPECT_EQ(status, 0) << "promtool: " << out << "\n" << text;
    std::remove(path.c_str());
}

}  // namespace
}  // namespace sesame::metrics
