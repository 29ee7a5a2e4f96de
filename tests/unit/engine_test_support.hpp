// engine_test_support.hpp - what the policy engine's test files share: a
// reply history in memory, a forward rule in one call, and a decision
// printed the way a failing test shows it (every field a postmaster would
// look at, one per line).
#pragma once

#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "policy/engine/evaluate.hpp"

namespace sesame::engine::test {

// The engine only reads the history through ReplyHistory: this one answers
// from a map, remembers what it was asked, and throws `error` when set.
class FakeHistory : public ReplyHistory {
  public:
    std::map<std::pair<std::string, std::string>, Time> replies;
    std::optional<std::string> error;  // throw this instead of answering
    mutable std::vector<std::pair<std::string, std::string>> asked;

    std::optional<Time> last_reply(std::string_view mailbox, std::string_view sender) const override
    {
        asked.emplace_back(mailbox, sender);
        if (error) throw std::runtime_error(*error);
        auto it = replies.find({std::string(mailbox), std::string(sender)});
        if (it == replies.end()) return std::nullopt;
        return it->second;
    }
};

inline ForwardRule forward(std::vector<std::string> targets, ForwardMode mode, bool keep_copy)
{
    ForwardRule r;
    r.targets = std::move(targets);
    r.mode = mode;
    r.keep_copy = keep_copy;
    return r;
}

inline std::string render(const ForwardAction& f)
{
    std::string s = std::string(to_string(f.route)) + " " + to_string(f.mode) + ":";
    for (const auto& t : f.to) s += " " + t;
    return s;
}

inline std::string render(const AutoReplyAction& r)
{
    return "from " + r.from + " to " + r.to + " subject \"" + r.subject + "\" key " + r.rule_key;
}

inline std::string dump(const RecipientDecision& d)
{
    std::ostringstream os;
    os << "  address " << d.address << (d.local ? " (local)" : " (not local)") << "\n  verdict " << to_string(d.verdict)
       << (d.smtp.empty() ? "" : " \"" + d.smtp + "\"") << (d.blocked_by_header ? " blocked_by_header" : "") << "\n";
    for (const auto& f : d.forwards) os << "  forward " << render(f) << "\n";
    if (d.autoreply) os << "  autoreply " << render(*d.autoreply) << "\n";
    for (const auto& h : d.add_headers) os << "  add-header " << h.name << ": " << h.value << "\n";
    for (const auto& t : d.trace) os << "  trace " << t << "\n";
    return os.str();
}

}  // namespace sesame::engine::test
