// daemon_security_test.cpp - who the daemons are and what they expose
// (docs/security.md, "Processes, users and the sandbox", "Secrets", "The
// HTTP side door", "Logs").
//
// * check_secrets(): an SRS secret others may read or write stops the start.
// * become(): after the drop no capability is left, root cannot be
//   regained, and the process is not dumpable (in a forked child, as root
//   only; skipped otherwise).
// * The systemd units in debian/ keep the sandbox docs/operations.md and
//   docs/security.md describe: the test reads the files, so a unit edited
//   without the documents fails here.
// * The HTTP side door listens where it is told (loopback), answers GET and
//   HEAD only, and holds at most a few connections, each for seconds.
// * A log line is one line, whatever it quotes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/daemon/http.hpp"
#include "policy/daemon/privileges.hpp"
#include "policy/log/log.hpp"
#include "tests/unit/free_port.hpp"
#include "tests/unit/scratch_dir.hpp"

namespace sesame::daemon {
namespace {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class Scratch : public ::testing::Test {
  protected:
    testdata::ScratchDir scratch_{"sesame-sec"};
    std::string dir_ = scratch_.path();
};

using DaemonSecurity = Scratch;

TEST_F(DaemonSecurity, AnSrsSecretOthersMayReadOrWriteStopsTheStart)
{
    config::Config c;
    c.srs_domain = "example.com";
    c.srs_secret_file = dir_ + "/srs.secret";
    std::ofstream(c.srs_secret_file) << "s3cret-never-shown\n";
    for (mode_t mode : {0644, 0604, 0602, 0666, 0777}) {
        ASSERT_EQ(::chmod(c.srs_secret_file.c_str(), mode), 0);
        try {
            check_secrets(c);
            ADD_FAILURE() << "mode " << std::oct << mode << " accepted";
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("chmod o-rwx " + c.srs_secret_file), std::string::npos) << what;
            EXPECT_EQ(what.find("s3cret"), std::string::npos) << "the secret itself in: " << what;
        }
    }
    for (mode_t mode : {0600, 0640, 0400, 0660}) {
        ASSERT_EQ(::chmod(c.srs_secret_file.c_str(), mode), 0);
        EXPECT_NO_THROW(check_secrets(c)) << "mode " << std::oct << mode;
    }
    // Without [srs] domain the file is not used, so not checked.
    ASSERT_EQ(::chmod(c.srs_secret_file.c_str(), 0644), 0);
    c.srs_domain.clear();
    EXPECT_NO_THROW(check_secrets(c));
}

// "Name:\tvalue" of /proc/self/status.
std::string status_field(const std::string& name)
{
    std::istringstream in(read_file("/proc/self/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + ":", 0) == 0) {
            line = line.substr(line.find_first_not_of(" \t", name.size() + 1));
            return line.substr(0, line.find_last_not_of(" \t") + 1);
        }
    return "(missing)";
}

TEST_F(DaemonSecurity, AfterTheDropNoCapabilityIsLeftAndRootCannotComeBack)
{
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    const passwd* pw = ::getpwnam("nobody");
    if (!pw) GTEST_SKIP() << "no user nobody";
    const Identity who{"nobody", "nobody's group", pw->pw_uid, pw->pw_gid};
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // The child reports "field=value" lines; it never returns into gtest.
        ::close(pipefd[0]);
        std::string report;
        try {
            become(who);
            for (const char* f : {"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapAmb"})
                report += std::string(f) + "=" + status_field(f) + "\n";
            report += std::string("setuid0=") + (::setuid(0) == 0 ? "yes" : "no") + "\n";
            report += std::string("seteuid0=") + (::seteuid(0) == 0 ? "yes" : "no") + "\n";
            report += "dumpable=" + std::to_string(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) + "\n";
        } catch (const std::exception& e) {
            report = std::string("error=") + e.what() + "\n";
        }
        (void)!::write(pipefd[1], report.data(), report.size());
        ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string report;
    char buf[512];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::map<std::string, std::string> got;
    std::istringstream in(report);
    for (std::string line; std::getline(in, line);)
        got[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
    ASSERT_EQ(got.count("error"), 0u) << got["error"];
    const std::string uid = std::to_string(pw->pw_uid), gid = std::to_string(pw->pw_gid);
    EXPECT_EQ(got["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid);
    EXPECT_EQ(got["Gid"], gid + "\t" + gid + "\t" + gid + "\t" + gid);
    EXPECT_EQ(got["Groups"], gid);
    for (const char* f : {"CapInh", "CapPrm", "CapEff", "CapAmb"}) EXPECT_EQ(got[f], "0000000000000000") << f;
    EXPECT_EQ(got["setuid0"], "no");
    EXPECT_EQ(got["seteuid0"], "no");
    // Not dumpable (fs.suid_dumpable 0, the kernel's default): another
    // process of the same user cannot read its memory or /proc/PID/environ,
    // where AWS keys from an EnvironmentFile live.
    const std::string suid_dumpable = read_file("/proc/sys/fs/suid_dumpable");
    if (suid_dumpable.rfind("0", 0) == 0) {
        EXPECT_EQ(got["dumpable"], "0");
    }
}

// [Service] of a unit file: key -> value (the last one wins, as in systemd).
std::map<std::string, std::string> service_section(const std::string& unit)
{
    std::map<std::string, std::string> out;
    std::istringstream in(read_file(std::string(SESAME_SOURCE_DIR) + "/debian/" + unit));
    bool service = false;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == '[') {
            service = line == "[Service]";
            continue;
        }
        if (service && line.find('=') != std::string::npos)
            out[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
    }
    return out;
}

std::set<std::string> words(const std::string& s)
{
    std::istringstream in(s);
    return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

TEST_F(DaemonSecurity, SystemdUnitsKeepTheSandboxTheDocumentsDescribe)
{
    const std::map<std::string, std::string> common = {
        {"NoNewPrivileges", "yes"},
        {"ProtectSystem", "strict"},
        {"ProtectHome", "yes"},
        {"PrivateTmp", "yes"},
        {"PrivateDevices", "yes"},
        {"ProtectKernelTunables", "yes"},
        {"ProtectKernelModules", "yes"},
        {"ProtectControlGroups", "yes"},
        {"RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
        {"RestrictNamespaces", "yes"},
        {"RestrictSUIDSGID", "yes"},
        {"SystemCallFilter", "@system-service"},
        {"UMask", "0027"},
        {"Environment", "HOME=/var/lib/sesame"},
    };
    struct Unit {
        const char* file;
        std::set<std::string> caps;
        std::set<std::string> writable;
        const char* env_file;
    };
    const Unit units[] = {
        {"sesame-milter.service",
         {"CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE"},
         {"/var/lib/sesame", "-/var/spool/postfix/sesame"},
         "-/etc/default/sesame-milter"},
        {"sesame-ingest.service",
         {"CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE"},
         {"/var/lib/sesame"},
         "-/etc/default/sesame-ingest"},
    };
    for (const Unit& u : units) {
        SCOPED_TRACE(u.file);
        const auto s = service_section(u.file);
        ASSERT_FALSE(s.empty()) << "no [Service] in debian/" << u.file;
        for (const auto& [key, want] : common) {
            auto it = s.find(key);
            EXPECT_TRUE(it != s.end() && it->second == want)
                << key << "=" << (it == s.end() ? "(missing)" : it->second) << ", want " << want;
        }
        EXPECT_EQ(s.count("User"), 0u) << "the daemon drops root itself, after opening its socket";
        EXPECT_EQ(s.count("AmbientCapabilities"), 0u);
        EXPECT_EQ(words(s.at("CapabilityBoundingSet")), u.caps);
        EXPECT_EQ(words(s.at("ReadWritePaths")), u.writable);
        EXPECT_EQ(s.at("EnvironmentFile"), u.env_file);
    }
}

// A trivial handler: the side door's method and connection rules are the
// server's, whatever the paths serve (daemon.Http.* tests those).
HttpReply hello(std::string_view path)
{
    if (path == "/healthz") return {200, "text/plain", "ok\n"};
    return {404, "text/plain", "not found\n"};
}

using testenv::free_port;

// A connection whose reads give up after 2 s; -1 when refused.
int connect_to(int port)
{
    int fd = testenv::connect_loopback(port);
    if (fd < 0) return -1;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

// The status of METHOD PATH, 0 when the server closed without answering.
int status_of(int port, const std::string& method, const std::string& path)
{
    int fd = connect_to(port);
    if (fd < 0) return 0;
    const std::string req = method + " " + path + " HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    (void)!::write(fd, req.data(), req.size());
    char buf[64] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    int status = 0;
    if (n > 12) std::sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

// The local addresses listening on PORT, from /proc/net/tcp and tcp6 (hex).
std::set<std::string> listeners(int port)
{
    std::set<std::string> out;
    char want[8];
    std::snprintf(want, sizeof want, "%04X", port);
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::istringstream in(read_file(table));
        std::string line;
        std::getline(in, line);  // the titles
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string sl, local, remote, state;
            f >> sl >> local >> remote >> state;
            if (state == "0A" && local.substr(local.find(':') + 1) == want)
                out.insert(local.substr(0, local.find(':')));
        }
    }
    return out;
}

TEST_F(DaemonSecurity, SideDoorListensOnLoopbackOnlyAndAnswersReadsOnly)
{
    const int port = free_port();
    HttpServer server("127.0.0.1:" + std::to_string(port), hello);
    EXPECT_EQ(listeners(port), std::set<std::string>{"0100007F"}) << "127.0.0.1 only";
    EXPECT_EQ(status_of(port, "GET", "/healthz"), 200);
    EXPECT_EQ(status_of(port, "HEAD", "/healthz"), 200);
    for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) EXPECT_EQ(status_of(port, method, "/healthz"), 405);
    for (const char* path : {"/", "/../../etc/sesame/srs.secret", "/healthz/../metrics", "/%2e%2e/x"})
        EXPECT_EQ(status_of(port, "GET", path), 404) << path;
}

// Idle connections cannot pile up: a few at a time, and they are dropped
// after seconds, so a slow client cannot keep the door (or file
// descriptors) for itself.
TEST_F(DaemonSecurity, SideDoorHoldsFewConnectionsAndDropsIdleOnes)
{
    const int port = free_port();
    HttpServer server("127.0.0.1:" + std::to_string(port), hello);
    std::vector<int> idle;
    for (int i = 0; i < 40; ++i)
        if (int fd = connect_to(port); fd >= 0) idle.push_back(fd);
    // Give the server's thread time to take (or turn away) every one.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int still_open = 0;
    for (int fd : idle) {
        char c;
        ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
        still_open += n < 0 && errno == EAGAIN;
    }
    EXPECT_LE(still_open, 16) << "connections held at once";
    // The idle ones are closed within the server's timeout (5 s), by it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int closed = 0;
    while (closed < static_cast<int>(idle.size()) && std::chrono::steady_clock::now() < deadline) {
        closed = 0;
        for (int fd : idle) {
            char c;
            ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
            closed += n == 0 || (n < 0 && errno != EAGAIN);
        }
        if (closed < static_cast<int>(idle.size())) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(closed, static_cast<int>(idle.size())) << "idle connections the server did not drop";
    for (int fd : idle) ::close(fd);
    EXPECT_EQ(status_of(port, "GET", "/healthz"), 200) << "the door works again";
}

TEST_F(DaemonSecurity, ALogLineIsOneLineWhateverItQuotes)
{
    const std::string path = dir_ + "/stderr";
    std::fflush(stderr);
    const int saved = ::dup(2);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ::dup2(fd, 2);
    ::close(fd);
    log::configure("sesame-test", "stderr", "info");
    log::line(log::Level::info,
              "from=<a@b.example> forward target \"x@y.example\r\nsesame-milter[1]: forged\" "
              "skipped\x1b[2J\ttab k\xc3\xa9pt\x7f");
    log::line(log::Level::info, std::string("nul\0inside", 10));
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    EXPECT_EQ(read_file(path),
              "sesame-test: from=<a@b.example> forward target \"x@y.example??sesame-milter[1]: "
              "forged\" skipped?[2J\ttab k\xc3\xa9pt?\n"
              "sesame-test: nul?inside\n");
}

}  // namespace
}  // namespace sesame::daemon
