// smtp_sink.hpp - Postfix's real smtp-sink(1) on 127.0.0.1, for tests.
//
// An SmtpSink owns one smtp-sink process and one temporary directory (under
// $TMPDIR or /tmp): the dump folder for -d (owned by postfix when we run as
// root, since smtp-sink then needs and gets `-u postfix`), the file that
// collects -c counters, its stderr, and a unix socket when asked for one.
// The port is picked free at run time; start() waits, bounded, until the
// kernel lists the socket as listening (/proc/net/tcp or /proc/net/unix),
// so no probe connection disturbs the session counters. kill() is a crash
// (SIGKILL), start() again reuses the same port or socket. The destructor
// stops the process by PID (SIGTERM, waitpid) and removes the directory.
// Not thread-safe. Failures throw std::runtime_error with a one-line reason.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sesame::testenv {

// Polls PRED every few milliseconds until it holds or LIMIT passes.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(5000))
{
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int pick_free_port()
{
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
        std::string reason = std::strerror(errno);
        ::close(fd);
        throw std::runtime_error("bind 127.0.0.1:0: " + reason);
    }
    ::close(fd);
    return ntohs(sin.sin_port);
}

struct SmtpSinkOptions {
    std::vector<std::string> args;  // extra smtp-sink options: {"-L"}, {"-f", "RCPT"}
    bool unix_socket = false;       // listen on DIR/sink.sock instead of TCP
};

class SmtpSink {
  public:
    using Options = SmtpSinkOptions;

    // One message as smtp-sink dumped it.
    struct Message {
        std::string proto;                   // X-Client-Proto: SMTP, ESMTP or LMTP
        std::string helo;                    // X-Helo-Args
        std::string mail_args;               // X-Mail-Args: "<a@b> BODY=8BITMIME"
        std::vector<std::string> rcpt_args;  // X-Rcpt-Args, in order
        std::string content;                 // header and body as received, LF line ends
    };

    // The last line smtp-sink -c printed (-1: nothing printed yet).
    struct Counters {
        long sess = -1, quit = -1, mesg = -1;
    };

    explicit SmtpSink(Options options = {}) : options_(std::move(options))
    {
        const char* tmp = std::getenv("TMPDIR");
        std::string base = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/smtp-sink.XXXXXX";
        if (::mkdtemp(base.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
        dir_ = base;
        ::chmod(dir_.c_str(), 0755);  // smtp-sink runs as postfix and must reach dump/
        std::filesystem::create_directory(dump_dir());
        if (::geteuid() == 0) {
            const passwd* pw = ::getpwnam("postfix");
            if (pw == nullptr) throw std::runtime_error("smtp-sink as root needs the postfix user");
            if (::chown(dump_dir().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                throw std::runtime_error("chown " + dump_dir() + ": " + std::strerror(errno));
            }
        }
        try {
            start();
        } catch (...) {
            std::filesystem::remove_all(dir_);
            throw;
        }
    }

    ~SmtpSink()
    {
        stop(SIGTERM);
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    int port() const { return port_; }
    std::string socket_path() const { return dir_ + "/sink.sock"; }
    std::string dump_dir() const { return dir_ + "/dump"; }
    // "smtp:127.0.0.1:PORT" or "lmtp:unix:DIR/sink.sock" for PROTOCOL.
    std::string endpoint(const std::string& protocol = "smtp") const
    {
        if (options_.unix_socket) return protocol + ":unix:" + socket_path();
        return protocol + ":127.0.0.1:" + std::to_string(port_);
    }
    pid_t pid() const { return pid_; }

    // Starts smtp-sink (again, on the same port or socket, after kill()).
    void start()
    {
        if (pid_ > 0) throw std::runtime_error("smtp-sink is already running");
        for (int attempt = 0; attempt < 5; ++attempt) {
            if (!options_.unix_socket && (port_ == 0 || (attempt > 0 && !keep_port_))) port_ = pick_free_port();
            spawn();
            if (wait_until([this] { return listening() || exited(); }) && pid_ > 0 && listening()) {
                keep_port_ = true;  // a restart must come back on the same port
                return;
            }
            stop(SIGKILL);
            if (keep_port_ || options_.unix_socket) break;  // another port would not help
        }
        throw std::runtime_error("smtp-sink did not start listening on " + endpoint() + ": " + stderr_text());
    }

    // A crash: SIGKILL, and wait for the process to be gone.
    void kill() { stop(SIGKILL); }

    // Every message that reached DATA (order: by file name, i.e. arbitrary).
    // smtp-sink opens a dump file at MAIL and writes its Received: header at
    // DATA: a file without one is a transaction that sent no message.
    std::vector<Message> messages() const
    {
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(dump_dir())) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        std::vector<Message> out;
        for (const auto& file : files) {
            std::string text = read_file(file);
            if (text.find("\nReceived: ") != std::string::npos) out.push_back(parse_dump(text));
        }
        return out;
    }

    Counters counters() const
    {
        Counters c;
        std::string text = read_file(dir_ + "/counters");
        std::replace(text.begin(), text.end(), '\r', '\n');
        std::istringstream in(text);
        std::string line;
        while (std::getline(in, line)) {
            Counters now;
            if (std::sscanf(line.c_str(), "sess=%ld quit=%ld mesg=%ld", &now.sess, &now.quit, &now.mesg) == 3) c = now;
        }
        return c;
    }

    std::string stderr_text() const { return read_file(dir_ + "/stderr"); }

  private:
    static std::string read_file(const std::filesystem::path& path)
    {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
    }

    // smtp-sink's own headers (X-*, then a three-line Received:), then the
    // message, then one empty line.
    static Message parse_dump(const std::string& text)
    {
        Message m;
        std::size_t pos = 0;
        int received_lines = 0;
        while (pos < text.size()) {
            std::size_t eol = text.find('\n', pos);
            if (eol == std::string::npos) eol = text.size();
            std::string line = text.substr(pos, eol - pos);
            pos = eol + 1;
            auto value = [&](std::string_view key) { return line.substr(key.size()); };
            if (received_lines > 0) {
                if (++received_lines == 3) break;
            } else if (line.starts_with("X-Client-Proto: ")) {
                m.proto = value("X-Client-Proto: ");
            } else if (line.starts_with("X-Helo-Args: ")) {
                m.helo = value("X-Helo-Args: ");
            } else if (line.starts_with("X-Mail-Args: ")) {
                m.mail_args = value("X-Mail-Args: ");
            } else if (line.starts_with("X-Rcpt-Args: ")) {
                m.rcpt_args.push_back(value("X-Rcpt-Args: "));
            } else if (line.starts_with("Received: ")) {
                received_lines = 1;
            }
        }
        m.content = pos < text.size() ? text.substr(pos) : std::string();
        if (!m.content.empty() && m.content.back() == '\n') m.content.pop_back();  // the trailing empty line
        return m;
    }

    void spawn()
    {
        std::vector<std::string> args = {"/usr/sbin/smtp-sink"};
        if (::geteuid() == 0) args.insert(args.end(), {"-u", "postfix"});
        args.insert(args.end(), {"-c", "-d", dump_dir() + "/m."});
        args.insert(args.end(), options_.args.begin(), options_.args.end());
        args.push_back(options_.unix_socket ? "unix:" + socket_path() : "127.0.0.1:" + std::to_string(port_));
        args.push_back("64");
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        std::string counters = dir_ + "/counters";
        std::string errors = dir_ + "/stderr";
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, counters.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, errors.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0)
            throw std::runtime_error("cannot run /usr/sbin/smtp-sink (install postfix): " + std::string(strerror(rc)));
        pid_ = pid;
    }

    // True (and the PID forgotten) once the process has exited.
    bool exited()
    {
        if (pid_ <= 0) return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return true;
        }
        return false;
    }

    bool listening() const
    {
        if (options_.unix_socket) {
            // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = listening.
            std::istringstream in(read_file("/proc/net/unix"));
            std::string line;
            while (std::getline(in, line)) {
                if (line.ends_with(" " + socket_path()) && line.find(" 00010000 ") != std::string::npos) return true;
            }
            return false;
        }
        char local[32];
        std::snprintf(local, sizeof local, "0100007F:%04X", port_);
        std::istringstream in(read_file("/proc/net/tcp"));
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, address, remote, state;
            fields >> slot >> address >> remote >> state;
            if (address == local && state == "0A") return true;
        }
        return false;
    }

    void stop(int sig)
    {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    Options options_;
    std::string dir_;
    int port_ = 0;
    bool keep_port_ = false;
    pid_t pid_ = -1;
};

}  // namespace sesame::testenv
