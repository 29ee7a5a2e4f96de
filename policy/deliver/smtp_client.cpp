// smtp_client.cpp - the SMTP/LMTP transaction and the connection pool.
//
// A session is greeting, EHLO (HELO if EHLO gets a 5xx) or LHLO, then any
// number of transactions: [RSET] MAIL RCPT... DATA, written in one go when
// the server advertises PIPELINING (RFC 2920; replies read in order) and in
// lock-step otherwise, then the dot-stuffed body and one final reply (SMTP)
// or one per accepted recipient (LMTP, RFC 2033). An SMTP server that also
// advertises CHUNKING (RFC 3030; Postfix since 3.4) gets [RSET] MAIL RCPT...
// "BDAT n LAST" and the undotted message in one write, and its replies in
// one read: one round trip a message, not two. A reused connection that
// turns out dead (closed, reset, 421, RSET refused) before the whole message
// (the final dot, or the chunk) was written is dropped, with every other
// idle one, and the send is retried once on a fresh connection: until then
// the server cannot have taken the message, so nothing is sent twice.
// After it, a lost reply leaves the recipients' fate unknown: tempfail,
// never retried here.
//
// The pool's mutex guards only the idle list; no I/O happens under it.
// Session set-up failures (greeting, EHLO/HELO, even a 5xx) are tempfail:
// they say nothing about this message and are the receiving host's fault.
#include "policy/deliver/smtp_client.hpp"

#include <algorithm>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>

#include "policy/deliver/smtp_connection.hpp"
#include "policy/deliver/smtp_wire.hpp"

namespace sesame::deliver {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct SmtpPool::Session {
    std::unique_ptr<Connection> conn;
    wire::Capabilities caps;
    Clock::time_point idle_since;
};

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kPipelineWindow = 100;  // commands per write with PIPELINING

Outcome classify(const wire::Reply& reply)
{
    switch (reply.kind()) {
        case 2:
            return Outcome::ok;
        case 5:
            return Outcome::permfail;
        default:
            return Outcome::tempfail;  // 4xx, and a 3xx where none belongs
    }
}

// A message for IoStatus STATUS on CONN while doing WHAT.
std::string io_failure(const Connection& conn, IoStatus status, std::string_view what)
{
    std::string out;
    switch (status) {
        case IoStatus::closed:
            out = "lost connection with " + conn.peer() + " while ";
            out += what;
            if (!conn.error().empty()) out += ": " + conn.error();
            return out;
        case IoStatus::timeout:
            out = "conversation with " + conn.peer() + " " + conn.error() + " while ";
            out += what;
            return out;
        case IoStatus::malformed:
        case IoStatus::ok:
            break;
    }
    out = "malformed reply from " + conn.peer() + " while ";
    out += what;
    out += ": " + conn.error();
    return out;
}

// Every recipient gets OUTCOME and REASON: a failure before any RCPT.
SendResult whole_failure(const std::vector<std::string>& rcpts, Outcome outcome, const std::string& reason)
{
    SendResult result;
    result.outcome = outcome;
    result.reply = reason;
    result.recipients.reserve(rcpts.size());
    for (const std::string& rcpt : rcpts) result.recipients.push_back({rcpt, outcome, reason});
    return result;
}

// QUIT, and wait briefly for the 221, unless the peer already hung up.
void say_goodbye(Connection& conn, milliseconds command_timeout)
{
    milliseconds wait = std::min(command_timeout, milliseconds(1000));
    if (conn.stale()) return;
    if (conn.write_all("QUIT\r\n", wait) != IoStatus::ok) return;
    wire::Reply reply;
    conn.read_reply(reply, wait);
}

// What send() knows before talking to anyone.
struct Prepared {
    std::string_view sender;
    std::vector<std::string_view> rcpts;  // without brackets; parallel to the caller's
    std::vector<bool> valid;
    std::string_view message;  // as the caller gave it
    bool eightbit = false;
    bool needs_smtputf8 = false;

    // MESSAGE in the form the session takes, made on first use (and kept
    // for a second attempt): dot-stuffed for DATA, canonical for BDAT.
    const std::string& data_body()
    {
        if (data_body_.empty()) data_body_ = wire::encode_body(message);  // never empty once made: ".\r\n"
        return data_body_;
    }
    std::string_view chunk()
    {
        if (!chunk_) chunk_ = wire::canonical_body(message, chunk_storage_);
        return *chunk_;
    }

  private:
    std::string data_body_;
    std::string chunk_storage_;
    std::optional<std::string_view> chunk_;
};

struct Attempt {
    SendResult result;
    bool reusable = false;  // the connection may go back to the pool
    bool retry = false;     // dead before the dot: safe to try a fresh connection
};

// Turns per-recipient results into the overall outcome (see SendResult).
void decide(SendResult& result, const std::vector<bool>& unknown, const std::string& unknown_reason)
{
    bool any_unknown = std::find(unknown.begin(), unknown.end(), true) != unknown.end();
    const RecipientResult* first_ok = nullptr;
    const RecipientResult* first_temp = nullptr;
    const RecipientResult* first_perm = nullptr;
    for (const RecipientResult& r : result.recipients) {
        const RecipientResult** slot = r.outcome == Outcome::ok         ? &first_ok
                                       : r.outcome == Outcome::tempfail ? &first_temp
                                                                        : &first_perm;
        if (*slot == nullptr) *slot = &r;
    }
    if (any_unknown) {
        result.outcome = Outcome::tempfail;
        result.reply = unknown_reason;
    } else if (first_ok != nullptr) {
        result.outcome = Outcome::ok;
        result.reply = first_ok->reply;
    } else if (first_temp != nullptr) {
        result.outcome = Outcome::tempfail;
        result.reply = first_temp->reply;
    } else {
        result.outcome = Outcome::permfail;
        result.reply = first_perm != nullptr ? first_perm->reply : "no recipients";
    }
}

// One mail transaction on an established session.
Attempt transact(Connection& conn, const wire::Capabilities& caps, bool reused, bool lmtp, Prepared& p,
                 const std::vector<std::string>& rcpts, const SmtpOptions& options)
{
    Attempt attempt;
    SendResult& result = attempt.result;
    std::size_t n = rcpts.size();
    result.recipients.reserve(n);
    std::vector<bool> done(n, false);  // this recipient's outcome is final
    for (std::size_t i = 0; i < n; ++i) {
        result.recipients.push_back({rcpts[i], Outcome::tempfail, {}});
        if (!p.valid[i]) {
            result.recipients[i].outcome = Outcome::permfail;
            result.recipients[i].reply = "invalid recipient address (control character or angle bracket)";
            done[i] = true;
        }
    }
    std::vector<bool> unknown(n, false);

    if (p.needs_smtputf8 && !caps.smtputf8) {
        // RFC 6531 3.2: such addresses must not go to a server without
        // SMTPUTF8. Our own Postfix lacking it is our fault: tempfail.
        std::string reason = "SMTPUTF8 is required, but was not offered by host " + conn.peer();
        for (std::size_t i = 0; i < n; ++i) {
            if (!done[i]) result.recipients[i].reply = reason;
        }
        decide(result, unknown, {});
        attempt.reusable = true;
        return attempt;
    }

    bool dot_sent = false;
    // A dead connection or a broken conversation: whatever is not final is
    // tempfail with REASON; after the dot it is unknown.
    auto abandon = [&](const std::string& reason, bool dead) {
        for (std::size_t i = 0; i < n; ++i) {
            if (done[i]) continue;
            result.recipients[i].outcome = Outcome::tempfail;
            result.recipients[i].reply = reason;
            unknown[i] = dot_sent;
            done[i] = true;
        }
        decide(result, unknown, reason);
        attempt.reusable = false;
        attempt.retry = dead && !dot_sent;
        return attempt;
    };

    enum class Step { rset, mail, rcpt, data, bdat };
    struct Command {
        Step step;
        std::size_t rcpt;
        std::string text;
        std::string_view name;
    };
    // Lock-step: one command, one reply. PIPELINING: up to kPipelineWindow
    // commands per write (a normal message is one write: [RSET] MAIL, RCPTs,
    // DATA), so thousands of recipients cannot fill both sides' buffers.
    // CHUNKING too (SMTP; LMTP keeps DATA), and the envelope fits in one
    // window: the message goes as one "BDAT n LAST" chunk in the same write,
    // one round trip instead of two, and every reply is read after it.
    const std::size_t window = caps.pipelining ? kPipelineWindow : 1;
    const auto valid_rcpts = static_cast<std::size_t>(std::count(p.valid.begin(), p.valid.end(), true));
    const bool chunking = !lmtp && caps.chunking && caps.pipelining && (reused ? 1 : 0) + valid_rcpts + 2 <= window;
    std::vector<Command> commands;
    commands.reserve(n + 3);
    if (reused) commands.push_back({Step::rset, 0, "RSET\r\n", "RSET"});
    wire::MailParams params;
    if (caps.size) params.size = chunking ? p.chunk().size() : p.data_body().size();
    params.body_8bitmime = p.eightbit && caps.eightbitmime;
    params.smtputf8 = p.needs_smtputf8;
    commands.push_back({Step::mail, 0, wire::mail_command(p.sender, params), "MAIL FROM"});
    for (std::size_t i = 0; i < n; ++i) {
        if (p.valid[i]) commands.push_back({Step::rcpt, i, wire::rcpt_command(p.rcpts[i]), "RCPT TO"});
    }
    if (chunking) {
        commands.push_back({Step::bdat, 0, wire::bdat_last_command(p.chunk().size()), "BDAT"});
    } else {
        commands.push_back({Step::data, 0, "DATA\r\n", "DATA"});
    }

    bool mail_ok = false;
    std::vector<std::size_t> accepted;  // recipients taken at RCPT, in order
    wire::Reply data_reply;
    bool data_answered = false;
    std::size_t written = 0;
    for (std::size_t k = 0; k < commands.size(); ++k) {
        const Command& c = commands[k];
        if (written == k) {                                       // every reply so far is in: send the next window
            if (c.step == Step::rcpt && !mail_ok) break;          // MAIL refused
            if (c.step == Step::data && accepted.empty()) break;  // nobody to send to
            std::size_t end = std::min(commands.size(), k + window);
            std::string batch;
            for (std::size_t j = k; j < end; ++j) batch += commands[j].text;
            IoStatus st = chunking ? conn.write_all(batch, p.chunk(), options.data_timeout)
                                   : conn.write_all(batch, options.command_timeout);
            if (st != IoStatus::ok) {
                return abandon(
                    io_failure(conn, st, chunking ? "sending message body" : "sending " + std::string(c.name)),
                    st == IoStatus::closed);
            }
            written = end;
            dot_sent = chunking;  // the whole message is out: from here on its fate may be unknown
            if (chunking) conn.quick_ack();
        }
        wire::Reply reply;
        IoStatus st = conn.read_reply(reply, c.step == Step::bdat ? options.data_timeout : options.command_timeout);
        if (st != IoStatus::ok) {
            return abandon(io_failure(conn, st, "receiving reply to " + std::string(c.name)), st == IoStatus::closed);
        }
        std::string in_reply = " (in reply to " + std::string(c.name) + " command)";
        if (reply.code == 421) return abandon("host " + conn.peer() + " said: " + reply.text() + in_reply, true);
        switch (c.step) {
            case Step::rset:
                if (reply.kind() != 2) {
                    return abandon("host " + conn.peer() + " said: " + reply.text() + in_reply, true);
                }
                break;
            case Step::mail:
                mail_ok = reply.kind() == 2;
                if (!mail_ok) {
                    for (std::size_t i = 0; i < n; ++i) {
                        if (done[i]) continue;
                        result.recipients[i].outcome = classify(reply);
                        result.recipients[i].reply = reply.text();
                        done[i] = true;
                    }
                }
                break;
            case Step::rcpt:
                if (!mail_ok) break;  // pipelined after a refused MAIL: already answered
                if (reply.kind() == 2) {
                    accepted.push_back(c.rcpt);
                } else {
                    result.recipients[c.rcpt].outcome = classify(reply);
                    result.recipients[c.rcpt].reply = reply.text();
                    done[c.rcpt] = true;
                }
                break;
            case Step::data:
                data_reply = std::move(reply);
                data_answered = true;
                break;
            case Step::bdat:
                data_reply = std::move(reply);
                break;
        }
    }

    if (chunking) {
        // The chunk's reply is the final one for those RCPT took; without
        // them the server has refused the chunk, and the session is in step.
        for (std::size_t i : accepted) {
            result.recipients[i].outcome = classify(data_reply);
            result.recipients[i].reply = data_reply.text();
            done[i] = true;
        }
        attempt.reusable = data_reply.code != 421;
        decide(result, unknown, {});
        return attempt;
    }

    if (!mail_ok || accepted.empty()) {
        // Nobody to deliver to. A 354 here means a server that ignored RFC
        // 2920: it waits for a body we will not send, so hang up.
        attempt.reusable = !(data_answered && data_reply.code == 354);
        decide(result, unknown, {});
        return attempt;
    }
    if (data_reply.code != 354) {
        for (std::size_t i : accepted) {
            result.recipients[i].outcome = data_reply.kind() == 5 ? Outcome::permfail : Outcome::tempfail;
            result.recipients[i].reply = data_reply.text();
            done[i] = true;
        }
        attempt.reusable = true;
        decide(result, unknown, {});
        return attempt;
    }

    IoStatus st = conn.write_all(p.data_body(), options.data_timeout);
    if (st != IoStatus::ok) return abandon(io_failure(conn, st, "sending message body"), st == IoStatus::closed);
    dot_sent = true;

    bool clean = true;
    std::size_t replies = lmtp ? accepted.size() : 1;
    for (std::size_t k = 0; k < replies; ++k) {
        wire::Reply reply;
        st = conn.read_reply(reply, options.data_timeout);
        if (st != IoStatus::ok) return abandon(io_failure(conn, st, "receiving reply to end of data"), true);
        if (reply.code == 421) clean = false;
        // SMTP: one reply for all; LMTP: one per accepted recipient, in order.
        std::size_t first = lmtp ? k : 0;
        std::size_t last = lmtp ? k + 1 : accepted.size();
        for (std::size_t j = first; j < last; ++j) {
            result.recipients[accepted[j]].outcome = classify(reply);
            result.recipients[accepted[j]].reply = reply.text();
            done[accepted[j]] = true;
        }
    }
    attempt.reusable = clean;
    decide(result, unknown, {});
    return attempt;
}

bool valid_helo(std::string_view name)
{
    return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
    });
}

}  // namespace

const char* to_string(Outcome outcome)
{
    switch (outcome) {
        case Outcome::ok:
            return "ok";
        case Outcome::tempfail:
            return "tempfail";
        case Outcome::permfail:
            return "permfail";
    }
    return "?";
}

// --- Endpoint -----------------------------------------------------------

Endpoint Endpoint::parse(std::string_view spec)
{
    auto fail = [&](std::string_view reason) {
        std::string shown;
        for (char c : spec.substr(0, 200)) {
            auto u = static_cast<unsigned char>(c);
            shown += (u < 0x20 || u == 0x7f) ? '?' : c;
        }
        throw std::invalid_argument("invalid delivery endpoint \"" + shown + "\": " + std::string(reason));
    };
    Endpoint endpoint;
    std::string_view rest;
    if (spec.starts_with("smtp:")) {
        endpoint.protocol = Protocol::smtp;
    } else if (spec.starts_with("lmtp:")) {
        endpoint.protocol = Protocol::lmtp;
    } else {
        fail("expected smtp:HOST:PORT, lmtp:HOST:PORT or lmtp:unix:/PATH");
    }
    rest = spec.substr(5);
    if (rest.starts_with("unix:")) {
        std::string_view path = rest.substr(5);
        if (path.empty() || path.front() != '/') fail("the unix socket path must be absolute");
        if (path.size() > 107) fail("the unix socket path is longer than 107 bytes");
        if (path.find('\0') != std::string_view::npos) fail("the unix socket path contains a NUL byte");
        endpoint.unix_path = std::string(path);
        return endpoint;
    }
    if (rest.starts_with("inet:")) rest.remove_prefix(5);
    std::string_view host;
    std::string_view port;
    if (rest.starts_with("[")) {
        std::size_t close = rest.find(']');
        if (close == std::string_view::npos) fail("missing ']' after the IPv6 address");
        host = rest.substr(1, close - 1);
        rest.remove_prefix(close + 1);
        if (!rest.starts_with(":")) fail("missing :PORT after the host");
        port = rest.substr(1);
    } else {
        std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) fail("missing :PORT after the host");
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) fail("an IPv6 address must be written in [brackets]");
    }
    if (host.empty()) fail("missing host");
    for (char c : host) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '/' || c == '[' || c == ']') fail("invalid character in the host");
    }
    int value = 0;
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
        for (char c : port) value = value * 10 + (c - '0');
    }
    if (!digits || value < 1 || value > 65535) fail("the port must be a number from 1 to 65535");
    endpoint.host = std::string(host);
    endpoint.port = value;
    return endpoint;
}

std::string Endpoint::to_string() const
{
    std::string out = protocol == Protocol::lmtp ? "lmtp:" : "smtp:";
    if (!unix_path.empty()) return out + "unix:" + unix_path;
    return out + peer_name(*this);
}

// --- SmtpPool -----------------------------------------------------------

SmtpPool::SmtpPool(Endpoint endpoint, SmtpOptions options)
    : endpoint_(std::move(endpoint)), options_(std::move(options))
{
    if (!valid_helo(options_.helo)) {
        throw std::invalid_argument("invalid HELO name \"" + options_.helo + "\": empty or with spaces or controls");
    }
    if (options_.max_idle > 0 && options_.idle_timeout.count() > 0) reaper_ = std::thread([this] { reap(); });
}

SmtpPool::~SmtpPool()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    drop_idle();
}

std::size_t SmtpPool::idle_connections() const
{
    std::lock_guard lock(mutex_);
    return idle_.size();
}

std::unique_ptr<SmtpPool::Session> SmtpPool::checkout()
{
    std::vector<std::unique_ptr<Session>> expired;
    std::unique_ptr<Session> found;
    {
        std::lock_guard lock(mutex_);
        Clock::time_point now = Clock::now();
        // Newest first: the warmest connection, and the old ones expire.
        while (!idle_.empty() && !found) {
            std::unique_ptr<Session> s = std::move(idle_.back());
            idle_.pop_back();
            if (now - s->idle_since >= options_.idle_timeout || s->conn->stale()) {
                expired.push_back(std::move(s));
            } else {
                found = std::move(s);
            }
        }
    }
    for (auto& s : expired) say_goodbye(*s->conn, options_.command_timeout);
    return found;
}

void SmtpPool::checkin(std::unique_ptr<Session> session)
{
    std::unique_ptr<Session> excess;
    session->idle_since = Clock::now();
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || options_.max_idle == 0 || options_.idle_timeout.count() <= 0) {
            excess = std::move(session);
        } else {
            idle_.push_back(std::move(session));
            if (idle_.size() > options_.max_idle) {
                excess = std::move(idle_.front());
                idle_.pop_front();
            }
        }
    }
    wake_.notify_all();
    if (excess) say_goodbye(*excess->conn, options_.command_timeout);
}

void SmtpPool::drop_idle()
{
    std::deque<std::unique_ptr<Session>> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(idle_);
    }
    for (auto& s : all) say_goodbye(*s->conn, options_.command_timeout);
}

void SmtpPool::reap()
{
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (idle_.empty()) {
            wake_.wait(lock);
            continue;
        }
        Clock::time_point expiry = idle_.front()->idle_since + options_.idle_timeout;
        if (Clock::now() < expiry) {
            wake_.wait_until(lock, expiry);
            continue;
        }
        std::vector<std::unique_ptr<Session>> expired;
        Clock::time_point now = Clock::now();
        while (!idle_.empty() && idle_.front()->idle_since + options_.idle_timeout <= now) {
            expired.push_back(std::move(idle_.front()));
            idle_.pop_front();
        }
        lock.unlock();
        for (auto& s : expired) say_goodbye(*s->conn, options_.command_timeout);
        expired.clear();
        lock.lock();
    }
}

std::unique_ptr<SmtpPool::Session> SmtpPool::open_session(std::string& error)
{
    auto conn = Connection::open(endpoint_, options_.connect_timeout, error);
    if (!conn) return nullptr;
    const bool lmtp = endpoint_.protocol == Endpoint::Protocol::lmtp;
    const milliseconds timeout = options_.command_timeout;
    wire::Reply reply;
    IoStatus st = conn->read_reply(reply, timeout);
    if (st != IoStatus::ok) {
        error = io_failure(*conn, st, "receiving the initial server greeting");
        return nullptr;
    }
    if (reply.kind() != 2) {
        error = "host " + conn->peer() + " refused to talk to me: " + reply.text();
        return nullptr;
    }
    auto hello = [&](std::string_view verb) {
        std::string command = std::string(verb) + " " + options_.helo + std::string(kCrlf);
        IoStatus s = conn->write_all(command, timeout);
        if (s == IoStatus::ok) s = conn->read_reply(reply, timeout);
        if (s != IoStatus::ok) error = io_failure(*conn, s, "performing the " + std::string(verb) + " handshake");
        return s == IoStatus::ok;
    };
    auto session = std::make_unique<Session>();
    if (!hello(lmtp ? "LHLO" : "EHLO")) return nullptr;
    if (reply.kind() == 2) {
        session->caps = wire::parse_ehlo(reply);
    } else if (!lmtp && reply.kind() == 5) {
        if (!hello("HELO")) return nullptr;
        if (reply.kind() != 2) {
            error = "host " + conn->peer() + " said: " + reply.text() + " (in reply to HELO command)";
            return nullptr;
        }
    } else {
        error = "host " + conn->peer() + " said: " + reply.text() + " (in reply to " + (lmtp ? "LHLO" : "EHLO") +
                " command)";
        return nullptr;
    }
    session->conn = std::move(conn);
    return session;
}

SendResult SmtpPool::send(std::string_view mail_from, const std::vector<std::string>& rcpts, std::string_view message)
{
    try {
        return send_checked(mail_from, rcpts, message);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return whole_failure(rcpts, Outcome::tempfail, std::string("internal error: ") + e.what());
    } catch (...) {
        return whole_failure(rcpts, Outcome::tempfail, "internal error");
    }
}

SendResult SmtpPool::send_checked(std::string_view mail_from, const std::vector<std::string>& rcpts,
                                  std::string_view message)
{
    if (rcpts.empty()) return whole_failure(rcpts, Outcome::permfail, "no recipients");
    Prepared p;
    p.sender = wire::strip_brackets(mail_from);
    if (!wire::valid_address(p.sender)) {
        return whole_failure(rcpts, Outcome::permfail, "invalid sender address (control character or angle bracket)");
    }
    p.needs_smtputf8 = wire::has_8bit(p.sender);
    bool any_valid = false;
    for (const std::string& rcpt : rcpts) {
        std::string_view address = wire::strip_brackets(rcpt);
        bool valid = !address.empty() && wire::valid_address(address);
        p.rcpts.push_back(address);
        p.valid.push_back(valid);
        any_valid = any_valid || valid;
        if (valid && wire::has_8bit(address)) p.needs_smtputf8 = true;
    }
    if (!any_valid) {
        return whole_failure(rcpts, Outcome::permfail,
                             "invalid recipient address (empty, control character or angle bracket)");
    }
    p.message = message;
    p.eightbit = wire::has_8bit(message);

    const bool lmtp = endpoint_.protocol == Endpoint::Protocol::lmtp;
    for (int round = 0;; ++round) {
        std::unique_ptr<Session> session = round == 0 ? checkout() : nullptr;
        const bool reused = session != nullptr;
        if (!session) {
            std::string error;
            session = open_session(error);
            if (!session) return whole_failure(rcpts, Outcome::tempfail, error);
        }
        Attempt attempt = transact(*session->conn, session->caps, reused, lmtp, p, rcpts, options_);
        if (attempt.retry && reused) {
            // The server went away while this connection idled (restart,
            // reload): the others idle since then are suspect too.
            session.reset();
            drop_idle();
            continue;
        }
        // A connection whose conversation went wrong is closed without QUIT.
        if (attempt.reusable) checkin(std::move(session));
        return std::move(attempt.result);
    }
}

}  // namespace sesame::deliver
