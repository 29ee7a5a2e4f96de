// smtp_options.hpp - the delivery client's options with short timeouts, for
// the unit tests that talk to a server in the test (a stuck exchange fails
// the test in seconds, not after the production timeouts). Header-only.
#pragma once

#include <chrono>

#include "policy/deliver/smtp_client.hpp"

namespace sesame::testenv {

inline deliver::SmtpOptions fast_options()
{
    using namespace std::chrono_literals;
    deliver::SmtpOptions o;
    o.connect_timeout = 2s;
    o.command_timeout = 5s;
    o.data_timeout = 5s;
    return o;
}

}  // namespace sesame::testenv
