// systemd.hpp - the service manager's side of a daemon's life (sd_notify).
//
// Under systemd with Type=notify, ready() tells it the daemon serves,
// reloading()/ready() bracket a SIGHUP reload, stopping() starts the stop,
// and watchdog_ping() proves the daemon alive every watchdog_interval() / 2.
// Outside systemd ($NOTIFY_SOCKET unset) every call does nothing, so the
// daemons run the same from a shell or a test.
#pragma once

#include <chrono>
#include <string_view>

namespace sesame::daemon::systemd {

void ready(std::string_view status);
void reloading();
void stopping();
void status(std::string_view text);
// WatchdogSec= as systemd passed it; zero when there is no watchdog.
std::chrono::microseconds watchdog_interval();
void watchdog_ping();

}  // namespace sesame::daemon::systemd
