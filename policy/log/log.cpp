// log.cpp - syslog or stderr, filtered by level.
//
// A line is one line whatever it quotes: text from a message, a notification
// or a rule (an address, a forward target from DynamoDB) may hold a CR, LF or
// another control character, which would start a forged line in the journal
// or move a terminal's cursor. Those bytes are written as '?'; TAB and bytes
// from 0x80 up (UTF-8) are kept.
#include "policy/log/log.hpp"

#include <syslog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>

namespace sesame::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_syslog{false};
std::mutex g_stderr;
std::string g_program = "sesame";

int priority(Level l)
{
    switch (l) {
        case Level::debug:
            return LOG_DEBUG;
        case Level::info:
            return LOG_INFO;
        case Level::notice:
            return LOG_NOTICE;
        case Level::warning:
            return LOG_WARNING;
        case Level::error:
            return LOG_ERR;
    }
    return LOG_INFO;
}

bool is_control(char c)
{
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

}  // namespace

void configure(std::string_view program, std::string_view target, std::string_view level)
{
    Level l = Level::info;
    if (level == "debug") l = Level::debug;
    if (level == "notice") l = Level::notice;
    if (level == "warning") l = Level::warning;
    if (level == "error") l = Level::error;
    g_level = static_cast<int>(l);
    std::lock_guard lock(g_stderr);
    if (g_program != program) g_program = std::string(program);
    bool use_syslog = target == "syslog";
    if (use_syslog && !g_syslog) openlog(g_program.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
    g_syslog = use_syslog;
}

bool enabled(Level level)
{
    return static_cast<int>(level) >= g_level.load();
}

void line(Level level, std::string_view text)
{
    if (!enabled(level)) return;
    std::string masked;
    if (std::any_of(text.begin(), text.end(), is_control)) {
        masked.assign(text);
        std::replace_if(masked.begin(), masked.end(), is_control, '?');
        text = masked;
    }
    if (g_syslog) {
        syslog(priority(level), "%.*s", static_cast<int>(text.size()), text.data());
        return;
    }
    std::lock_guard lock(g_stderr);
    std::fprintf(stderr, "%s: %.*s\n", g_program.c_str(), static_cast<int>(text.size()), text.data());
}

}  // namespace sesame::log
