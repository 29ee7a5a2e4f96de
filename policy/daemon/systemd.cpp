// systemd.cpp - see systemd.hpp.
#include "policy/daemon/systemd.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace sesame::daemon::systemd {

void ready(std::string_view status)
{
    sd_notify(0, ("READY=1\nSTATUS=" + std::string(status)).c_str());
}

void reloading()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long usec = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    sd_notify(0, ("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec)).c_str());
}

void stopping()
{
    sd_notify(0, "STOPPING=1");
}

void status(std::string_view text)
{
    sd_notify(0, ("STATUS=" + std::string(text)).c_str());
}

std::chrono::microseconds watchdog_interval()
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? std::chrono::microseconds(usec) : std::chrono::microseconds(0);
}

void watchdog_ping()
{
    sd_notify(0, "WATCHDOG=1");
}

}  // namespace sesame::daemon::systemd
