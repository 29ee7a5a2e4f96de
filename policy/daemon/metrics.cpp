// metrics.cpp - see metrics.hpp.
#include "policy/daemon/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sesame::metrics {

namespace {

// A sample value as Prometheus reads it: integers without a fraction.
std::string number(double v)
{
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // the shortest form that reads back
    return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string escaped(std::string_view value)
{
    std::string out;
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

// {a="1",b="2"} with EXTRA appended (the histogram's le); "" when empty.
std::string label_text(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr)
{
    std::string out;
    auto add = [&](const std::string& k, const std::string& v) {
        out += (out.empty() ? "{" : ",") + k + "=\"" + escaped(v) + "\"";
    };
    for (const auto& [k, v] : labels) add(k, v);
    if (extra) add(extra->first, extra->second);
    return out.empty() ? out : out + "}";
}

const char* type_name(int t)
{
    static const char* names[] = {"counter", "gauge", "histogram"};
    return names[t];
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1])
{
    for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::observe(double seconds) noexcept
{
    std::size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    if (seconds > 0) sum_ns_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const noexcept
{
    std::uint64_t n = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) n += counts_[i].load(std::memory_order_relaxed);
    return n;
}

std::vector<std::uint64_t> Histogram::cumulative() const
{
    std::vector<std::uint64_t> out;
    std::uint64_t n = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) out.push_back(n += counts_[i].load(std::memory_order_relaxed));
    return out;
}

double Histogram::sum() const noexcept
{
    return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::vector<double> default_seconds_buckets()
{
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

MailMetrics::MailMetrics(Registry& r, const std::string& path, const std::vector<std::string>& verdicts,
                         std::function<double()> in_flight)
    : blocked(r.counter("sesame_recipients_blocked_total", "Recipients refused by a block rule.", {{"path", path}})),
      forwards(r.counter("sesame_forwards_total", "Forward copies, by result.", {{"path", path}, {"result", "sent"}})),
      forward_failures(
          r.counter("sesame_forwards_total", "Forward copies, by result.", {{"path", path}, {"result", "failed"}})),
      autoreplies(r.counter("sesame_autoreplies_total", "Out-of-office replies, by result.",
                            {{"path", path}, {"result", "sent"}})),
      autoreply_failures(r.counter("sesame_autoreplies_total", "Out-of-office replies, by result.",
                                   {{"path", path}, {"result", "failed"}})),
      reinjection_failures(r.counter("sesame_reinjection_failures_total",
                                     "Mail Postfix did not take from Sesame (a forward, a reply, a delivery); "
                                     "each is retried or deferred.",
                                     {{"path", path}})),
      processing(r.histogram("sesame_processing_seconds", "Time Sesame spent on a message.", default_seconds_buckets(),
                             {{"path", path}}))
{
    for (const auto& v : verdicts)
        verdicts_.emplace_back(
            v, &r.counter("sesame_messages_total", "Messages by final verdict.", {{"path", path}, {"verdict", v}}));
    r.gauge("sesame_messages_in_flight", "Messages being worked on now.", {{"path", path}}, std::move(in_flight));
}

Counter& MailMetrics::messages(std::string_view verdict)
{
    for (auto& [name, counter] : verdicts_)
        if (name == verdict) return *counter;
    throw std::logic_error("undeclared verdict " + std::string(verdict));
}

double seconds_since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Registry::Series& Registry::series(std::string_view name, std::string_view help, Type type, const Labels& labels,
                                   bool* fresh)
{
    Family* family = nullptr;
    for (auto& f : families_)
        if (f.name == name) family = &f;
    if (!family) {
        families_.push_back({std::string(name), std::string(help), type, {}});
        family = &families_.back();
    } else if (family->type != type) {
        throw std::logic_error("metric " + std::string(name) + " declared with two types");
    }
    for (auto& s : family->series)
        if (s.labels == labels) {
            *fresh = false;
            return s;
        }
    *fresh = true;
    family->series.push_back({labels, nullptr, nullptr, {}});
    return family->series.back();
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels)
{
    std::lock_guard lock(mutex_);
    bool fresh = false;
    Series& s = series(name, help, Type::counter, labels, &fresh);
    if (fresh) s.counter = &counters_.emplace_back();
    if (!s.counter) throw std::logic_error("metric " + std::string(name) + " is read through a function");
    return *s.counter;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                               const Labels& labels)
{
    std::lock_guard lock(mutex_);
    bool fresh = false;
    Series& s = series(name, help, Type::histogram, labels, &fresh);
    if (fresh) s.histogram = &histograms_.emplace_back(std::move(bounds));
    return *s.histogram;
}

void Registry::gauge(std::string_view name, std::string_view help, const Labels& labels, std::function<double()> read)
{
    std::lock_guard lock(mutex_);
    bool fresh = false;
    series(name, help, Type::gauge, labels, &fresh).read = std::move(read);
}

void Registry::counter_fn(std::string_view name, std::string_view help, const Labels& labels,
                          std::function<double()> read)
{
    std::lock_guard lock(mutex_);
    bool fresh = false;
    series(name, help, Type::counter, labels, &fresh).read = std::move(read);
}

std::string Registry::render() const
{
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& f : families_) {
        out +=
            "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + type_name(static_cast<int>(f.type)) + "\n";
        for (const auto& s : f.series) {
            if (s.histogram) {
                const auto cumulative = s.histogram->cumulative();
                const auto& bounds = s.histogram->bounds();
                for (std::size_t i = 0; i < cumulative.size(); ++i) {
                    std::pair<std::string, std::string> le{"le", i < bounds.size() ? number(bounds[i]) : "+Inf"};
                    out += f.name + "_bucket" + label_text(s.labels, &le) + " " + std::to_string(cumulative[i]) + "\n";
                }
                out += f.name + "_sum" + label_text(s.labels) + " " + number(s.histogram->sum()) + "\n";
                out += f.name + "_count" + label_text(s.labels) + " " + std::to_string(cumulative.back()) + "\n";
                continue;
            }
            const double v = s.counter ? static_cast<double>(s.counter->value()) : s.read();
            out += f.name + label_text(s.labels) + " " + number(v) + "\n";
        }
    }
    return out;
}

}  // namespace sesame::metrics
