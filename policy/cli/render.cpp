// render.cpp - text and JSON renderings of a Decision (nlohmann::json).
#include "policy/cli/render.hpp"

#include <nlohmann/json.hpp>

namespace sesame::cli {

namespace {

std::string quoted(const std::string& s)
{
    return nlohmann::json(s).dump();
}

}  // namespace

std::string render_text(const engine::Decision& d)
{
    std::string out = "sender: " + (d.sender.empty() ? std::string("<> (null sender)") : d.sender) + "\n";
    if (d.loop) out += "loop: yes\n";
    for (const auto& r : d.recipients) {
        out += "\n" + r.address + ": " + engine::to_string(r.verdict);
        if (!r.smtp.empty()) out += " (" + r.smtp + ")";
        out += "\n";
        for (const auto& f : r.forwards) {
            out += "  forward " + std::string(engine::to_string(f.route)) + " " + engine::to_string(f.mode) + ":";
            for (const auto& t : f.to) out += " " + t;
            out += "\n";
        }
        if (r.autoreply)
            out += "  autoreply to " + r.autoreply->to + ", subject " + quoted(r.autoreply->subject) + "\n";
        for (const auto& h : r.add_headers) out += "  add-header " + h.name + ": " + h.value + "\n";
        for (const auto& t : r.trace) out += "  trace: " + t + "\n";
    }
    return out;
}

std::string render_json(const engine::Decision& d)
{
    using json = nlohmann::ordered_json;  // keys in the documented order
    json recipients = json::array();
    for (const auto& r : d.recipients) {
        json actions = json::array();
        for (const auto& f : r.forwards)
            actions.push_back({{"type", "forward"},
                               {"to", f.to},
                               {"route", engine::to_string(f.route)},
                               {"mode", engine::to_string(f.mode)}});
        if (r.autoreply)
            actions.push_back({{"type", "autoreply"},
                               {"to", r.autoreply->to},
                               {"from", r.autoreply->from},
                               {"subject", r.autoreply->subject}});
        for (const auto& h : r.add_headers)
            actions.push_back({{"type", "add-header"}, {"name", h.name}, {"value", h.value}});
        recipients.push_back({{"address", r.address},
                              {"verdict", engine::to_string(r.verdict)},
                              {"smtp", r.smtp.empty() ? json(nullptr) : json(r.smtp)},
                              {"actions", std::move(actions)},
                              {"trace", r.trace}});
    }
    json out = {{"sender", d.sender}, {"loop", d.loop}, {"recipients", std::move(recipients)}};
    return out.dump(2) + "\n";
}

}  // namespace sesame::cli
