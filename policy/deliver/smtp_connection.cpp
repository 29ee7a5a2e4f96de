// smtp_connection.cpp - sockets with timeouts for the SMTP/LMTP client.
//
// TCP: getaddrinfo (numeric hosts do not touch the resolver), then for each
// address a non-blocking connect() finished with poll(); the connect
// timeout covers all addresses together. UNIX: a blocking connect() bounded
// by SO_SNDTIMEO (Linux applies it to a full listen queue), then the socket
// is made non-blocking like a TCP one. Reads fill input_ and hand complete
// lines to wire::parse_reply; a reply still incomplete at the deadline is a
// timeout. The Connection owns the descriptor (FileDescriptor) and is used
// by one thread at a time. Failures are IoStatus values plus a one-line
// reason in error(); errno text comes from strerror_r (thread-safe).
#include "policy/deliver/smtp_connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sesame::deliver {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string errno_text(int err)
{
    char buffer[256];
    // GNU strerror_r returns the message (maybe not in BUFFER).
    return ::strerror_r(err, buffer, sizeof buffer);
}

std::string duration_text(milliseconds ms)
{
    if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
    return std::to_string(ms.count()) + " ms";
}

// Waits for EVENTS on FD until DEADLINE: 1 ready, 0 timed out, -1 error.
int wait_until(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
        if (left.count() < 0) left = milliseconds(0);
        pollfd pfd{fd, events, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1LL << 30)));
        if (n > 0) return 1;
        if (n == 0) {
            if (Clock::now() >= deadline) return 0;
            continue;
        }
        if (errno != EINTR) return -1;
    }
}

// One TCP address: a connected non-blocking socket, or an invalid one and ERROR.
FileDescriptor connect_tcp(const addrinfo& ai, Clock::time_point deadline, milliseconds timeout, std::string& error)
{
    FileDescriptor fd(::socket(ai.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = errno_text(errno);
        return {};
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS && errno != EINTR) {
        error = errno_text(errno);
        return {};
    }
    int ready = wait_until(fd.get(), POLLOUT, deadline);
    if (ready == 0) {
        error = "timed out after " + duration_text(timeout);
        return {};
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (ready < 0) {
        err = errno;
    } else if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        error = errno_text(err);
        return {};
    }
    return fd;
}

FileDescriptor connect_unix(const std::string& path, milliseconds timeout, std::string& error)
{
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof sun.sun_path) {
        error = "socket path too long";
        return {};
    }
    std::memcpy(sun.sun_path, path.data(), path.size());
    FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = errno_text(errno);
        return {};
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;  // zero would mean "wait forever"
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) {
        error =
            (errno == EAGAIN || errno == EINPROGRESS) ? "timed out after " + duration_text(timeout) : errno_text(errno);
        return {};
    }
    timeval none{};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        error = errno_text(errno);
        return {};
    }
    return fd;
}

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept
{
    if (this != &other) reset(other.release());
    return *this;
}

int FileDescriptor::release()
{
    int fd = fd_;
    fd_ = -1;
    return fd;
}

void FileDescriptor::reset(int fd)
{
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

std::string peer_name(const Endpoint& endpoint)
{
    if (!endpoint.unix_path.empty()) return endpoint.unix_path;
    std::string host = endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host;
    return host + ":" + std::to_string(endpoint.port);
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, milliseconds timeout, std::string& error)
{
    std::string peer = peer_name(endpoint);
    std::string reason;
    FileDescriptor fd;
    if (!endpoint.unix_path.empty()) {
        fd = connect_unix(endpoint.unix_path, timeout, reason);
    } else {
        Clock::time_point deadline = Clock::now() + timeout;
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        addrinfo* list = nullptr;
        std::string port = std::to_string(endpoint.port);
        int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &list);
        if (rc != 0) {
            reason = rc == EAI_SYSTEM ? errno_text(errno) : ::gai_strerror(rc);
        } else {
            std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, &::freeaddrinfo);
            for (const addrinfo* ai = list; ai != nullptr && !fd; ai = ai->ai_next) {
                fd = connect_tcp(*ai, deadline, timeout, reason);
                if (Clock::now() >= deadline) break;
            }
        }
    }
    if (!fd) {
        error = "connect to " + peer + ": " + reason;
        return nullptr;
    }
    return std::unique_ptr<Connection>(new Connection(std::move(fd), std::move(peer)));
}

IoStatus Connection::write_all(std::string_view head, std::string_view body, milliseconds timeout)
{
    while (!head.empty() || !body.empty()) {
        iovec parts[2];
        int count = 0;
        for (std::string_view part : {head, body}) {
            if (!part.empty()) parts[count++] = {const_cast<char*>(part.data()), part.size()};
        }
        msghdr msg{};
        msg.msg_iov = parts;
        msg.msg_iovlen = static_cast<std::size_t>(count);
        ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
        if (n > 0) {
            auto sent = static_cast<std::size_t>(n);
            std::size_t from_head = std::min(sent, head.size());
            head.remove_prefix(from_head);
            body.remove_prefix(sent - from_head);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ready = wait_until(fd_.get(), POLLOUT, Clock::now() + timeout);
            if (ready == 0) {
                error_ = "timed out after " + duration_text(timeout);
                return IoStatus::timeout;
            }
            if (ready < 0) {
                error_ = errno_text(errno);
                return IoStatus::closed;
            }
            continue;
        }
        error_ = n < 0 ? errno_text(errno) : "write returned 0";
        return IoStatus::closed;
    }
    return IoStatus::ok;
}

void Connection::quick_ack()
{
    int one = 1;
    (void)::setsockopt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

IoStatus Connection::read_reply(wire::Reply& out, milliseconds timeout)
{
    Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
        std::size_t consumed = 0;
        switch (wire::parse_reply(input_, out, consumed, error_)) {
            case wire::ParseStatus::complete:
                input_.erase(0, consumed);
                return IoStatus::ok;
            case wire::ParseStatus::malformed:
                return IoStatus::malformed;
            case wire::ParseStatus::incomplete:
                break;
        }
        int ready = wait_until(fd_.get(), POLLIN, deadline);
        if (ready == 0) {
            error_ = "timed out after " + duration_text(timeout);
            return IoStatus::timeout;
        }
        if (ready < 0) {
            error_ = errno_text(errno);
            return IoStatus::closed;
        }
        char buffer[16384];
        ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
        if (n > 0) {
            input_.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            error_.clear();  // an orderly close: "lost connection" says it all
            return IoStatus::closed;
        } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            error_ = errno_text(errno);
            return IoStatus::closed;
        }
    }
}

bool Connection::stale() const
{
    if (!input_.empty()) return true;
    pollfd pfd{fd_.get(), POLLIN | POLLRDHUP, 0};
    int n;
    do n = ::poll(&pfd, 1, 0);
    while (n < 0 && errno == EINTR);
    return n != 0;
}

}  // namespace sesame::deliver
