// log.hpp - one line per event, to syslog (facility mail) or stderr.
//
// The daemons log through log_line(); the target and the level come from
// [log] and may change on reload. Lines carry what a postmaster greps for
// (the Postfix queue id, addresses, verdict, rule); never a secret. Thread-
// safe: syslog(3) is, and stderr lines are written whole under a mutex.
// Control characters in TEXT (CR, LF, ESC, ...) are written as '?'.
#pragma once

#include <string>
#include <string_view>

namespace sesame::log {

enum class Level { debug, info, notice, warning, error };

// TARGET "syslog" or "stderr"; LEVEL as in [log] level. Call again to change.
void configure(std::string_view program, std::string_view target, std::string_view level);

bool enabled(Level level);
void line(Level level, std::string_view text);

}  // namespace sesame::log
