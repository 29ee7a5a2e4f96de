// http_test_server.hpp - a tiny HTTP/1.1 server in the test process, for tests.
//
// TestHttpServer listens on 127.0.0.1 on a port the kernel picks, and serves
// from one thread of its own (poll over the listening socket and every open
// connection, so keep-alive and a second connection both work). Each request
// is recorded (method, target, headers with lower-cased names, body, which
// connection) BEFORE its answer is sent, so a test that got its answer can
// read requests() with no waiting. Answers come from a handler, by default
// a queue filled with script() (500 when it runs dry). Request bodies need
// Content-Length (no chunked uploads). HEAD answers carry no body.
// ClosedPort reserves a port on which connections are refused.
// Thread-safe: script()/set_handler()/requests() may be called while the
// server runs; the handler runs on the server thread. Setup failures throw
// std::runtime_error; the destructor stops the thread and closes everything.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sesame::testenv {

using TestHeaders = std::vector<std::pair<std::string, std::string>>;

struct TestRequest {
    std::string method;
    std::string target;   // "/path?query" as sent
    TestHeaders headers;  // names lower-cased, values trimmed
    std::string body;
    int connection = 0;  // 1 for the first connection accepted, 2 for the next...

    // The first value of header NAME (lower-case), or "" when absent.
    std::string header(std::string_view name) const
    {
        for (const auto& [n, v] : headers)
            if (n == name) return v;
        return "";
    }
    bool has_header(std::string_view name) const
    {
        for (const auto& h : headers)
            if (h.first == name) return true;
        return false;
    }
    std::size_t header_count(std::string_view name) const
    {
        std::size_t n = 0;
        for (const auto& h : headers) n += h.first == name;
        return n;
    }
};

struct TestReply {
    int status = 200;
    TestHeaders headers;  // Content-Length is added unless given
    std::string body;
    bool close = false;  // "Connection: close", then hang up
};

class TestHttpServer {
  public:
    using Handler = std::function<TestReply(const TestRequest&)>;

    TestHttpServer()
    {
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        wake_read_ = fds[0];
        wake_write_ = fds[1];
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            std::string why = std::strerror(errno);
            close_all();
            throw std::runtime_error("test server: cannot listen on 127.0.0.1: " + why);
        }
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }

    explicit TestHttpServer(Handler handler) : TestHttpServer() { set_handler(std::move(handler)); }

    ~TestHttpServer()
    {
        char c = 'x';
        (void)!::write(wake_write_, &c, 1);
        if (thread_.joinable()) thread_.join();
        close_all();
    }

    TestHttpServer(const TestHttpServer&) = delete;
    TestHttpServer& operator=(const TestHttpServer&) = delete;

    int port() const { return port_; }
    // "http://127.0.0.1:PORT" + PATH.
    std::string url(std::string_view path = "/") const
    {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    // Queues the answer to the next request the default handler sees.
    void script(TestReply reply)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(reply));
    }
    void script(int status, std::string body = "", TestHeaders headers = {})
    {
        TestReply r;
        r.status = status;
        r.body = std::move(body);
        r.headers = std::move(headers);
        script(std::move(r));
    }
    void set_handler(Handler handler)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        handler_ = std::move(handler);
    }

    std::vector<TestRequest> requests() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }
    std::size_t request_count() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_.size();
    }
    // Connections accepted so far.
    int connections() const { return accepted_.load(); }

  private:
    struct Connection {
        int fd = -1;
        int id = 0;
        std::string buffer;
    };

    static std::string lower(std::string_view s)
    {
        std::string out(s);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return out;
    }
    static std::string_view trim(std::string_view s)
    {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
        return s;
    }
    static const char* reason(int status)
    {
        switch (status) {
            case 200:
                return "OK";
            case 204:
                return "No Content";
            case 302:
                return "Found";
            case 400:
                return "Bad Request";
            case 401:
                return "Unauthorized";
            case 403:
                return "Forbidden";
            case 404:
                return "Not Found";
            case 429:
                return "Too Many Requests";
            case 500:
                return "Internal Server Error";
            case 503:
                return "Service Unavailable";
            default:
                return "Status";
        }
    }

    void close_all()
    {
        for (int* fd : {&listen_fd_, &wake_read_, &wake_write_})
            if (*fd >= 0) {
                ::close(*fd);
                *fd = -1;
            }
    }

    // A complete request at the front of C.buffer, removed from it; false when more bytes are needed.
    static bool take_request(Connection& c, TestRequest& out)
    {
        std::size_t head_end = c.buffer.find("\r\n\r\n");
        if (head_end == std::string::npos) return false;
        std::string_view head(c.buffer.data(), head_end);
        TestRequest r;
        r.connection = c.id;
        std::size_t line_end = head.find("\r\n");
        std::string_view first = head.substr(0, line_end);
        std::size_t sp1 = first.find(' ');
        std::size_t sp2 = first.find(' ', sp1 + 1);
        r.method = std::string(first.substr(0, sp1));
        r.target = std::string(first.substr(sp1 + 1, sp2 - sp1 - 1));
        std::size_t length = 0;
        std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            std::size_t e = head.find("\r\n", pos);
            if (e == std::string_view::npos) e = head.size();
            std::string_view line = head.substr(pos, e - pos);
            pos = e + 2;
            std::size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            std::string name = lower(trim(line.substr(0, colon)));
            std::string value(trim(line.substr(colon + 1)));
            if (name == "content-length") length = std::stoul(value);
            r.headers.emplace_back(std::move(name), std::move(value));
        }
        if (c.buffer.size() < head_end + 4 + length) return false;
        r.body = c.buffer.substr(head_end + 4, length);
        c.buffer.erase(0, head_end + 4 + length);
        out = std::move(r);
        return true;
    }

    TestReply answer(const TestRequest& r)
    {
        Handler handler;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            requests_.push_back(r);  // recorded before the answer goes out
            handler = handler_;
            if (!handler) {
                if (queue_.empty()) {
                    TestReply none;
                    none.status = 500;
                    none.body = "test server: no scripted reply left";
                    return none;
                }
                TestReply next = std::move(queue_.front());
                queue_.pop_front();
                return next;
            }
        }
        return handler(r);
    }

    static bool send_all(int fd, const std::string& data)
    {
        std::size_t sent = 0;
        while (sent < data.size()) {
            ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Answers every complete request in C's buffer; false when C must be closed.
    bool serve(Connection& c)
    {
        TestRequest r;
        while (take_request(c, r)) {
            TestReply reply = answer(r);
            std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
            bool has_length = false;
            for (const auto& [n, v] : reply.headers) {
                out += n + ": " + v + "\r\n";
                has_length = has_length || lower(n) == "content-length";
            }
            if (!has_length) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
            if (reply.close) out += "Connection: close\r\n";
            out += "\r\n";
            if (r.method != "HEAD") out += reply.body;
            if (!send_all(c.fd, out) || reply.close) return false;
        }
        return true;
    }

    void run()
    {
        std::vector<Connection> conns;
        for (;;) {
            std::vector<pollfd> fds;
            fds.push_back({wake_read_, POLLIN, 0});
            fds.push_back({listen_fd_, POLLIN, 0});
            for (const auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if (fds[0].revents) break;
            std::vector<Connection> keep;
            for (std::size_t i = 0; i < conns.size(); ++i) {
                Connection& c = conns[i];
                bool open = true;
                if (fds[i + 2].revents) {
                    char buf[65536];
                    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                    if (n <= 0) {
                        open = n < 0 && errno == EINTR;
                    } else {
                        c.buffer.append(buf, static_cast<std::size_t>(n));
                        open = serve(c);
                    }
                }
                if (open) {
                    keep.push_back(std::move(c));
                } else {
                    ::close(c.fd);
                }
            }
            conns = std::move(keep);
            if (fds[1].revents & POLLIN) {
                int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) {
                    Connection c;
                    c.fd = fd;
                    c.id = ++accepted_;
                    conns.push_back(std::move(c));
                }
            }
        }
        for (auto& c : conns) ::close(c.fd);
    }

    int listen_fd_ = -1;
    int wake_read_ = -1;
    int wake_write_ = -1;
    int port_ = 0;
    std::atomic<int> accepted_{0};
    mutable std::mutex mutex_;
    std::deque<TestReply> queue_;
    Handler handler_;
    std::vector<TestRequest> requests_;
    std::thread thread_;
};

// A loopback port that is bound but not listening: a connection to it is
// refused at once (no timeout involved), and no other process can take it
// while this object lives.
class ClosedPort {
  public:
    ClosedPort()
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            std::string why = std::strerror(errno);
            if (fd_ >= 0) ::close(fd_);
            throw std::runtime_error("cannot reserve a loopback port: " + why);
        }
        port_ = ntohs(addr.sin_port);
    }
    ~ClosedPort() { ::close(fd_); }
    ClosedPort(const ClosedPort&) = delete;
    ClosedPort& operator=(const ClosedPort&) = delete;

    int port() const { return port_; }
    std::string url(std::string_view path = "/") const
    {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

  private:
    int fd_ = -1;
    int port_ = 0;
};

}  // namespace sesame::testenv
