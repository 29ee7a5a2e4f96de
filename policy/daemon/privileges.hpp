// privileges.hpp - who a daemon runs as, and who may read its secrets.
//
// Started as root, a daemon opens what needs root (its sockets, a port
// under 1024, the secrets) and then becomes `[daemon] user` and `group`
// for good, before it opens the store: files it creates (the sqlite WAL)
// then belong to that user. A user or group that does not exist stops the
// start with one line; `user = "root"` keeps root on purpose. Started as
// another user, it stays who it is.
//
// check_secrets() refuses a secret file (the SRS secret) that others may
// read or write, as ssh refuses a private key: the fix is in the message.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "policy/config/config.hpp"

namespace sesame::daemon {

struct Identity {
    std::string user, group;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Whom to become; nullopt when not running as root or when told to stay
// root. Throws std::runtime_error when the user or the group is unknown.
std::optional<Identity> identity_to_become(const config::Config& config);

// setgroups() to GID alone, setgid(), setuid(), then checks that root
// cannot be regained. Throws std::runtime_error saying which step failed.
void become(const Identity& who);

// become(*WHO) and log whom the daemon now runs as; without WHO, log a
// warning if it stays root on purpose (daemon.user = "root").
void drop_privileges(const std::optional<Identity>& who);

// Throws std::runtime_error when a secret file CONFIG names is readable or
// writable by others (mode o+r or o+w). A missing file is not its business.
void check_secrets(const config::Config& config);

}  // namespace sesame::daemon
