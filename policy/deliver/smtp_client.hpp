// smtp_client.hpp - hands a message to Postfix over SMTP or LMTP, through a
// pool of reusable connections (the reinjection service, 127.0.0.1:2525).
//
// SmtpPool owns its connections: idle ones wait in the pool (at most
// max_idle, each at most idle_timeout, closed by a reaper thread with QUIT)
// and each send() borrows one, or opens one, for the whole transaction.
// send() is thread-safe; concurrent calls use different connections. The
// pool must outlive every send() in progress; its destructor QUITs the idle
// connections. How it fails: send() never throws (except std::bad_alloc);
// every network or protocol fault, timeout or local refusal comes back as
// a tempfail with a one-line reason, server replies as ok/tempfail/permfail
// per recipient. Endpoint::parse throws std::invalid_argument on bad specs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sesame::deliver {

// Where to deliver: "smtp:HOST:PORT", "lmtp:HOST:PORT", "lmtp:unix:/path"
// ("smtp:unix:/path" too; HOST may be a name, an IPv4 or a [bracketed] IPv6).
struct Endpoint {
    enum class Protocol { smtp, lmtp };
    Protocol protocol = Protocol::smtp;
    std::string host;       // empty for a unix socket
    int port = 0;           // 1..65535 for TCP
    std::string unix_path;  // absolute; empty for TCP

    // Throws std::invalid_argument with a one-line reason naming SPEC.
    static Endpoint parse(std::string_view spec);
    // The spec form parse() reads back: "smtp:127.0.0.1:2525".
    std::string to_string() const;
};

// 2xx, 4xx (and every network or protocol error, timeout), 5xx.
enum class Outcome { ok, tempfail, permfail };
const char* to_string(Outcome outcome);

struct RecipientResult {
    std::string address;
    Outcome outcome = Outcome::tempfail;
    std::string reply;  // "550 5.1.1 <x>: unknown", or a one-line local error
};

struct SendResult {
    // ok: accepted for at least one recipient and no recipient's fate is
    // unknown; other recipients may still have failed (see recipients).
    // Otherwise tempfail if anything was temporary, else permfail.
    Outcome outcome = Outcome::tempfail;
    // The reply that decided, or a one-line error such as
    // "connect to 127.0.0.1:2525: Connection refused".
    std::string reply;
    std::vector<RecipientResult> recipients;  // one per RCPTS entry, same order
};

struct SmtpOptions {
    std::string helo = "localhost";
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds command_timeout{60000};  // each reply before DATA's body
    std::chrono::milliseconds data_timeout{120000};    // body writes (per stall) and the final reply
    std::size_t max_idle = 4;                          // idle connections kept; 0: none
    std::chrono::seconds idle_timeout{30};             // an idle connection is closed after this
};

class SmtpPool {
  public:
    explicit SmtpPool(Endpoint endpoint, SmtpOptions options = {});
    ~SmtpPool();
    SmtpPool(const SmtpPool&) = delete;
    SmtpPool& operator=(const SmtpPool&) = delete;

    // Sends MESSAGE (RFC 5322 bytes, LF or CRLF line ends) from MAIL_FROM
    // ("" = the null sender <>) to RCPTS. Thread-safe; never throws except
    // std::bad_alloc.
    SendResult send(std::string_view mail_from, const std::vector<std::string>& rcpts, std::string_view message);

    // How many connections wait in the pool now.
    std::size_t idle_connections() const;
    const Endpoint& endpoint() const { return endpoint_; }

  private:
    struct Session;  // a connection and what its server advertised (smtp_client.cpp)

    std::unique_ptr<Session> checkout();
    void checkin(std::unique_ptr<Session> session);
    void drop_idle();
    std::unique_ptr<Session> open_session(std::string& error);
    SendResult send_checked(std::string_view mail_from, const std::vector<std::string>& rcpts,
                            std::string_view message);
    void reap();

    const Endpoint endpoint_;
    const SmtpOptions options_;
    mutable std::mutex mutex_;  // guards idle_ and stopping_
    std::condition_variable wake_;
    std::deque<std::unique_ptr<Session>> idle_;  // oldest first
    bool stopping_ = false;
    std::thread reaper_;
};

}  // namespace sesame::deliver
