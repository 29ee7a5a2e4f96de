// smtp_connection.hpp - one client socket to an SMTP/LMTP server, with
// timeouts: connect, write everything, read one reply.
//
// A Connection owns its file descriptor (FileDescriptor closes it; moves
// transfer it) and its input buffer. Sockets are non-blocking, close-on-exec
// and TCP_NODELAY (commands and the final dot are small writes that must
// not wait for delayed ACKs); every wait is a poll() with a timeout, and
// writes use MSG_NOSIGNAL, so a dead peer never raises SIGPIPE.
//
// Not thread-safe: one thread uses a Connection at a time (the pool hands
// each to one sender). How it fails: every call returns an IoStatus and
// leaves a one-line reason in error() ("Connection reset by peer",
// "timed out after 200 ms", a malformed line); nothing throws but bad_alloc.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "policy/deliver/smtp_client.hpp"
#include "policy/deliver/smtp_wire.hpp"

namespace sesame::deliver {

// Owns one file descriptor; -1 when empty.
class FileDescriptor {
  public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_(fd) {}
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release();
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

enum class IoStatus {
    ok,
    closed,     // the peer closed or reset the connection, or a write failed
    timeout,    // no reply (or no progress) within the timeout
    malformed,  // the peer sent something that is not an SMTP reply
};

class Connection {
  public:
    // Connects to ENDPOINT within TIMEOUT (each address of a host name is
    // tried in turn). On failure returns nullptr with ERROR set to
    // "connect to PEER: reason".
    static std::unique_ptr<Connection> open(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                                            std::string& error);

    // Writes all of DATA; TIMEOUT bounds each wait for the socket to drain.
    IoStatus write_all(std::string_view data, std::chrono::milliseconds timeout)
    {
        return write_all(data, {}, timeout);
    }
    // Writes HEAD then BODY, in one system call when the socket takes both
    // (commands and a BDAT chunk reach the server together, uncopied).
    IoStatus write_all(std::string_view head, std::string_view body, std::chrono::milliseconds timeout);
    // Asks the kernel to acknowledge what arrives next at once, not after
    // its delayed-ACK wait (TCP; a no-op on a unix socket). For a server
    // that answers in two writes (Postfix after a BDAT chunk: the envelope's
    // replies, then the chunk's) and holds the second until the first is
    // acknowledged (Nagle): without it every message waits 40 ms.
    void quick_ack();
    // Reads one complete reply; TIMEOUT bounds the whole reply.
    IoStatus read_reply(wire::Reply& out, std::chrono::milliseconds timeout);
    // True if the server sent anything or closed while we were not asking
    // (an idle connection in that state is not reusable).
    bool stale() const;

    // The reason for the last failure, without the peer's name.
    const std::string& error() const { return error_; }
    // "127.0.0.1:2525", "[::1]:24" or "/run/lmtp.sock", for messages.
    const std::string& peer() const { return peer_; }

  private:
    Connection(FileDescriptor fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}

    FileDescriptor fd_;
    std::string peer_;
    std::string input_;
    std::string error_;
};

// The peer name used in messages for ENDPOINT (see Connection::peer()).
std::string peer_name(const Endpoint& endpoint);

}  // namespace sesame::deliver
