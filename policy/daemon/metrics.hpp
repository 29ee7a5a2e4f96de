// metrics.hpp - the daemons' Prometheus metrics and their text exposition.
//
// A Registry holds metric families in the order they were declared, each
// with its HELP and TYPE lines and one series per label set. Series are
// declared once, at start-up, and then updated lock-free from any thread:
// a Counter or a Histogram is a few atomics, so the mail path never waits
// for a scrape. Values that live elsewhere (the policy source's reload
// count, a queue's depth as last probed, messages in flight) are read at
// scrape time through a function instead of being copied.
//
// render() writes the text exposition format, version 0.0.4 (what
// `promtool check metrics` reads): label values escaped, histogram buckets
// cumulative with +Inf, _sum and _count.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sesame::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
  public:
    void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};

class Histogram {
  public:
    // BOUNDS: the buckets' upper bounds in seconds, ascending.
    explicit Histogram(std::vector<double> bounds);
    void observe(double seconds) noexcept;
    std::uint64_t count() const noexcept;
    // Cumulative counts, one per bound, then +Inf.
    std::vector<std::uint64_t> cumulative() const;
    double sum() const noexcept;
    const std::vector<double>& bounds() const { return bounds_; }

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
    std::atomic<std::uint64_t> sum_ns_{0};
};

// Processing-time buckets, 1 ms to 60 s.
std::vector<double> default_seconds_buckets();

class Registry {
  public:
    // Declares (or finds, for the same name and labels) a series. The
    // reference stays valid for the Registry's life.
    Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
    Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                         const Labels& labels = {});
    // A series whose value READ returns at scrape time (called on the HTTP
    // thread: it must be thread-safe and quick).
    void gauge(std::string_view name, std::string_view help, const Labels& labels, std::function<double()> read);
    void counter_fn(std::string_view name, std::string_view help, const Labels& labels, std::function<double()> read);

    std::string render() const;

  private:
    enum class Type { counter, gauge, histogram };
    struct Series {
        Labels labels;
        Counter* counter = nullptr;
        Histogram* histogram = nullptr;
        std::function<double()> read;
    };
    struct Family {
        std::string name, help;
        Type type;
        std::vector<Series> series;
    };
    Series& series(std::string_view name, std::string_view help, Type type, const Labels& labels, bool* fresh);

    mutable std::mutex mutex_;
    std::vector<Family> families_;
    std::deque<Counter> counters_;
    std::deque<Histogram> histograms_;
};

// The mail counters both daemons keep, every series labelled
// path="milter" or path="ingest" (docs/operations.md lists them):
//   sesame_messages_total{verdict}      messages by final verdict (VERDICTS)
//   sesame_recipients_blocked_total     recipients refused by a block rule
//   sesame_forwards_total{result}       forward copies sent / failed
//   sesame_autoreplies_total{result}    out-of-office replies sent / failed
//   sesame_reinjection_failures_total   mail Postfix did not take from us
//                                       (a forward, a reply, a delivery)
//   sesame_processing_seconds           time Sesame spent on a message
//   sesame_messages_in_flight           IN_FLIGHT at scrape time
struct MailMetrics {
    MailMetrics(Registry& registry, const std::string& path, const std::vector<std::string>& verdicts,
                std::function<double()> in_flight);
    // The series of VERDICT, which must be one of VERDICTS.
    Counter& messages(std::string_view verdict);

    Counter& blocked;
    Counter& forwards;
    Counter& forward_failures;
    Counter& autoreplies;
    Counter& autoreply_failures;
    Counter& reinjection_failures;
    Histogram& processing;

  private:
    std::vector<std::pair<std::string, Counter*>> verdicts_;
};

// Seconds since START (steady clock), for Histogram::observe().
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace sesame::metrics
