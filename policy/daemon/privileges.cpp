// privileges.cpp - see privileges.hpp.
#include "policy/daemon/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "policy/log/log.hpp"

namespace sesame::daemon {

namespace {

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

std::optional<Identity> identity_to_become(const config::Config& config)
{
    if (geteuid() != 0 || config.daemon_user == "root") return std::nullopt;
    Identity who{config.daemon_user, config.daemon_group};
    const passwd* pw = getpwnam(who.user.c_str());
    if (!pw)
        throw std::runtime_error("started as root, and daemon.user \"" + who.user +
                                 "\" does not exist: create it (the Debian package does: adduser --system --group " +
                                 who.user + ") or set [daemon] user in " + config.source);
    who.uid = pw->pw_uid;
    const group* gr = getgrnam(who.group.c_str());
    if (!gr)
        throw std::runtime_error("daemon.group \"" + who.group +
                                 "\" does not exist: create it or set [daemon] group in " + config.source);
    who.gid = gr->gr_gid;
    if (who.uid == 0) throw std::runtime_error("daemon.user \"" + who.user + "\" is root by another name");
    return who;
}

void become(const Identity& who)
{
    if (setgroups(1, &who.gid) != 0) fail("setgroups(" + who.group + ")");
    if (setgid(who.gid) != 0) fail("setgid(" + who.group + ")");
    if (setuid(who.uid) != 0) fail("setuid(" + who.user + ")");
    if (setuid(0) == 0 || geteuid() == 0) throw std::runtime_error("still root after becoming " + who.user);
}

void drop_privileges(const std::optional<Identity>& who)
{
    if (who) {
        become(*who);
        log::line(log::Level::info, "running as user " + who->user + ", group " + who->group);
    } else if (geteuid() == 0) {
        log::line(log::Level::warning, "running as root: daemon.user is \"root\"");
    }
}

void check_secrets(const config::Config& config)
{
    if (config.srs_domain.empty()) return;
    struct stat st {};
    if (stat(config.srs_secret_file.c_str(), &st) != 0) return;  // Srs::from_file says what is wrong
    if (st.st_mode & (S_IROTH | S_IWOTH))
        throw std::runtime_error("srs.secret_file " + config.srs_secret_file +
                                 " can be read or written by every user: chmod o-rwx " + config.srs_secret_file);
}

}  // namespace sesame::daemon
