// deliver_smtp_fake_test.cpp - SmtpPool against small scripted servers, for
// the faults smtp-sink cannot produce.
//
// smtp-sink refuses every RCPT or none, and every LMTP final reply or none;
// a server that decides per address is Postfix's smtpd with a recipient
// table, which needs a whole Postfix instance (the e2e tests' job). So the
// mixed-recipient cases, the proof that MAIL/RCPT/DATA really travel in one
// write, a reply lost after the dot on a reused connection, a malformed
// reply and a refusing greeting use FakeServer below: one thread on
// 127.0.0.1, a port picked by the kernel, replies worded like Postfix's.
// The timeouts use a bare listening socket (see each test). Suite SmtpFake.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy/deliver/smtp_client.hpp"
#include "tests/unit/smtp_options.hpp"

namespace sesame::deliver {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1 with a kernel-picked port; closed on exit.
struct Listener {
    int fd = -1;
    int port = 0;
    explicit Listener(int backlog = 16)
    {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sin;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || ::listen(fd, backlog) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
            throw std::runtime_error("listen on 127.0.0.1:0 failed");
        }
        port = ntohs(sin.sin_port);
    }
    ~Listener() { ::close(fd); }
    std::string endpoint(const std::string& protocol = "smtp") const
    {
        return protocol + ":127.0.0.1:" + std::to_string(port);
    }
};

// How the fake behaves; the defaults are a plain ESMTP server.
struct Script {
    bool lmtp = false;
    bool pipelining = true;
    bool chunking = false;  // advertise CHUNKING and take "BDAT n LAST"
    // Read MAIL, every RCPT and DATA before answering any: a client that
    // waits for MAIL's reply before sending RCPT would wait forever.
    bool batch = false;
    std::string greeting = "220 fake.example ESMTP";
    std::function<std::string(const std::string&)> rcpt_reply = [](const std::string&) { return "250 2.1.5 Ok"; };
    // SMTP: called once with ""; LMTP: once per accepted recipient.
    std::function<std::string(const std::string&)> final_reply = [](const std::string& rcpt) {
        return rcpt.empty() ? "250 2.0.0 Ok: queued as 4XyZ" : "250 2.0.0 <" + rcpt + "> Ok";
    };
    int hang_up_after_dot_of = 0;    // message number (1-based) answered by hanging up
    std::string reply_to_mail = "";  // replaces MAIL's reply when set
};

class FakeServer {
  public:
    explicit FakeServer(Script script) : script_(std::move(script)), thread_([this] { run(); }) {}
    ~FakeServer()
    {
        stop_ = true;
        thread_.join();
    }
    std::string endpoint() const { return listener_.endpoint(script_.lmtp ? "lmtp" : "smtp"); }
    int connections() const { return connections_; }
    int messages() const { return messages_; }
    // The last BDAT chunk taken, byte for byte.
    std::string last_chunk() const
    {
        std::lock_guard lock(mutex_);
        return last_chunk_;
    }

  private:
    // One line without its CRLF; false on EOF, error or stop.
    bool read_line(int fd, std::string& buffer, std::string& line)
    {
        for (;;) {
            std::size_t eol = buffer.find("\r\n");
            if (eol != std::string::npos) {
                line = buffer.substr(0, eol);
                buffer.erase(0, eol + 2);
                return true;
            }
            pollfd pfd{fd, POLLIN, 0};
            if (stop_) return false;
            if (::poll(&pfd, 1, 20) <= 0) continue;
            char chunk[4096];
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
    }

    // Exactly SIZE bytes (after what BUFFER holds); false on EOF or stop.
    bool read_bytes(int fd, std::string& buffer, std::size_t size, std::string& out)
    {
        while (buffer.size() < size) {
            pollfd pfd{fd, POLLIN, 0};
            if (stop_) return false;
            if (::poll(&pfd, 1, 20) <= 0) continue;
            char chunk[65536];
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
        out = buffer.substr(0, size);
        buffer.erase(0, size);
        return true;
    }

    static void say(int fd, const std::string& text)
    {
        std::string out = text + "\r\n";
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }

    void converse(int fd)
    {
        std::string buffer, line, pending;
        std::vector<std::string> accepted;
        say(fd, script_.greeting);
        if (script_.greeting[0] != '2') return;
        auto answer = [&](const std::string& text) {
            if (script_.batch) {
                pending += text + "\r\n";
            } else {
                say(fd, text);
            }
        };
        while (read_line(fd, buffer, line)) {
            std::string verb = line.substr(0, 4);
            if (verb == "EHLO" || verb == "LHLO") {
                say(fd, std::string("250-fake.example\r\n") + (script_.pipelining ? "250-PIPELINING\r\n" : "") +
                            (script_.chunking ? "250-CHUNKING\r\n" : "") + "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES");
            } else if (verb == "HELO") {
                say(fd, "250 fake.example");
            } else if (verb == "MAIL") {
                accepted.clear();
                answer(script_.reply_to_mail.empty() ? "250 2.1.0 Ok" : script_.reply_to_mail);
            } else if (verb == "RCPT") {
                std::string rcpt = line.substr(line.find('<') + 1);
                rcpt = rcpt.substr(0, rcpt.find('>'));
                std::string reply = script_.rcpt_reply(rcpt);
                if (reply[0] == '2') accepted.push_back(rcpt);
                answer(reply);
            } else if (verb == "DATA") {
                bool go = !accepted.empty() && script_.reply_to_mail.empty();
                answer(go ? "354 End data with <CR><LF>.<CR><LF>" : "554 5.5.1 Error: no valid recipients");
                ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
                pending.clear();
                if (!go) continue;
                while (read_line(fd, buffer, line) && line != ".") {
                }
                if (++messages_ == script_.hang_up_after_dot_of) return;
                if (script_.lmtp) {
                    for (const auto& rcpt : accepted) say(fd, script_.final_reply(rcpt));
                } else {
                    say(fd, script_.final_reply(""));
                }
            } else if (verb == "BDAT" && script_.chunking) {
                // "BDAT n LAST": the chunk follows whatever was answered
                // before; without a recipient it is read and refused.
                std::string chunk;
                if (!read_bytes(fd, buffer, std::stoul(line.substr(5)), chunk)) return;
                bool go = !accepted.empty() && script_.reply_to_mail.empty();
                if (go) {
                    std::lock_guard lock(mutex_);
                    last_chunk_ = chunk;
                }
                if (go && ++messages_ == script_.hang_up_after_dot_of) return;
                answer(go ? script_.final_reply("") : "554 5.5.1 Error: no valid recipients");
                ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
                pending.clear();
            } else if (verb == "RSET") {
                accepted.clear();
                say(fd, "250 2.0.0 Ok");
            } else if (verb == "QUIT") {
                say(fd, "221 2.0.0 Bye");
                return;
            } else {
                say(fd, "502 5.5.2 Error: command not recognized");
            }
        }
    }

    void run()
    {
        while (!stop_) {
            pollfd pfd{listener_.fd, POLLIN, 0};
            if (::poll(&pfd, 1, 20) <= 0) continue;
            int fd = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            int one = 1;  // small replies must not wait for delayed ACKs
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ++connections_;
            converse(fd);
            ::close(fd);
        }
    }

    Listener listener_;
    Script script_;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> messages_{0};
    mutable std::mutex mutex_;  // guards last_chunk_
    std::string last_chunk_;
    std::thread thread_;
};

using testenv::fast_options;

const std::string kShortMessage = "Subject: test\r\n\r\nbody\r\n";

TEST(SmtpFake, MixedRecipientsEachGetTheirOwnReply)
{
    Script script;
    script.rcpt_reply = [](const std::string& rcpt) -> std::string {
        if (rcpt.starts_with("gone")) return "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown";
        if (rcpt.starts_with("busy")) return "450 4.2.1 <" + rcpt + ">: Recipient address rejected: try later";
        return "250 2.1.5 Ok";
    };
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com",
                             {"a@example.net", "gone@example.net", "busy@example.net", "b@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::ok) << r.reply;
    EXPECT_EQ(r.reply, "250 2.0.0 Ok: queued as 4XyZ");
    ASSERT_EQ(r.recipients.size(), 4u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::ok);
    EXPECT_EQ(r.recipients[0].reply, "250 2.0.0 Ok: queued as 4XyZ");
    EXPECT_EQ(r.recipients[1].outcome, Outcome::permfail);
    EXPECT_EQ(r.recipients[1].reply, "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown");
    EXPECT_EQ(r.recipients[2].outcome, Outcome::tempfail);
    EXPECT_EQ(r.recipients[2].reply, "450 4.2.1 <busy@example.net>: Recipient address rejected: try later");
    EXPECT_EQ(r.recipients[3].outcome, Outcome::ok);
    EXPECT_EQ(server.messages(), 1);
}

TEST(SmtpFake, NoRecipientAcceptedTempfailWins)
{
    Script script;
    script.rcpt_reply = [](const std::string& rcpt) -> std::string {
        return rcpt.starts_with("busy") ? "450 4.2.1 try later" : "550 5.1.1 unknown";
    };
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com", {"gone@example.net", "busy@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail) << "some recipient may still be delivered later";
    EXPECT_EQ(r.reply, "450 4.2.1 try later");
    EXPECT_EQ(server.messages(), 0);
}

TEST(SmtpFake, LmtpMixedFinalReplies)
{
    Script script;
    script.lmtp = true;
    script.final_reply = [](const std::string& rcpt) -> std::string {
        if (rcpt.starts_with("full")) return "452 4.2.2 <" + rcpt + ">: Mailbox full";
        if (rcpt.starts_with("gone")) return "550 5.1.1 <" + rcpt + ">: User unknown";
        return "250 2.0.0 <" + rcpt + "> Saved";
    };
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com", {"full@example.net", "a@example.net", "gone@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::ok) << r.reply;
    EXPECT_EQ(r.reply, "250 2.0.0 <a@example.net> Saved");
    ASSERT_EQ(r.recipients.size(), 3u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::tempfail);
    EXPECT_EQ(r.recipients[0].reply, "452 4.2.2 <full@example.net>: Mailbox full");
    EXPECT_EQ(r.recipients[1].outcome, Outcome::ok);
    EXPECT_EQ(r.recipients[2].outcome, Outcome::permfail);
    EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST(SmtpFake, PipeliningSendsMailRcptDataInOneGo)
{
    // The fake answers nothing until it has read DATA: a lock-step client
    // would wait for the MAIL reply until its command timeout and tempfail.
    Script script;
    script.batch = true;
    FakeServer server(script);
    SmtpOptions options = fast_options();
    options.command_timeout = 2s;
    SmtpPool pool(Endpoint::parse(server.endpoint()), options);
    for (int i = 0; i < 2; ++i) {  // the second one with RSET in front
        SendResult r = pool.send("s@example.com", {"a@example.net", "b@example.net", "c@example.net"}, kShortMessage);
        EXPECT_EQ(r.outcome, Outcome::ok) << r.reply;
    }
    EXPECT_EQ(server.connections(), 1);
}

// CHUNKING: envelope and message in one write, every reply after it. The
// fake answers nothing until it has the chunk (batch), so a client that
// waited for a reply before sending the message would time out.
TEST(SmtpFake, ChunkingSendsTheMessageUndottedWithTheEnvelope)
{
    Script script;
    script.chunking = true;
    script.batch = true;
    FakeServer server(script);
    SmtpOptions options = fast_options();
    options.command_timeout = 2s;
    options.data_timeout = 2s;
    SmtpPool pool(Endpoint::parse(server.endpoint()), options);
    const std::string message = "Subject: dots\n\n.leading dot\r\n..two\nlast line without an end";
    for (int i = 0; i < 2; ++i) {  // the second one with RSET in front
        SendResult r = pool.send("s@example.com", {"a@example.net", "b@example.net"}, message);
        EXPECT_EQ(r.outcome, Outcome::ok) << r.reply;
        EXPECT_EQ(r.reply, "250 2.0.0 Ok: queued as 4XyZ");
        // Line ends made CRLF, the final one added, and no dot-stuffing.
        EXPECT_EQ(server.last_chunk(), "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nlast line without an end\r\n");
    }
    EXPECT_EQ(server.messages(), 2);
    EXPECT_EQ(server.connections(), 1);
}

TEST(SmtpFake, ChunkingKeepsEachRecipientsReply)
{
    Script script;
    script.chunking = true;
    script.rcpt_reply = [](const std::string& rcpt) -> std::string {
        return rcpt.starts_with("gone") ? "550 5.1.1 <" + rcpt + ">: User unknown" : "250 2.1.5 Ok";
    };
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com", {"gone@example.net", "a@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::ok) << r.reply;
    ASSERT_EQ(r.recipients.size(), 2u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::permfail);
    EXPECT_EQ(r.recipients[0].reply, "550 5.1.1 <gone@example.net>: User unknown");
    EXPECT_EQ(r.recipients[1].outcome, Outcome::ok);
    EXPECT_EQ(r.recipients[1].reply, "250 2.0.0 Ok: queued as 4XyZ");
    EXPECT_EQ(server.last_chunk(), kShortMessage);

    // Nobody accepted: the chunk is refused, the RCPT replies decide, and
    // the session is still in step for the next message.
    r = pool.send("s@example.com", {"gone@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::permfail);
    EXPECT_EQ(r.reply, "550 5.1.1 <gone@example.net>: User unknown");
    EXPECT_EQ(pool.send("s@example.com", {"b@example.net"}, kShortMessage).outcome, Outcome::ok);
    EXPECT_EQ(server.messages(), 2);
    EXPECT_EQ(server.connections(), 1);
}

TEST(SmtpFake, ChunkingReplyLostAfterTheChunkIsNotRetried)
{
    // The server reads the whole chunk, then hangs up without a reply: it
    // may have taken the message, so sending it again could duplicate it.
    Script script;
    script.chunking = true;
    script.hang_up_after_dot_of = 2;
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    ASSERT_EQ(pool.send("s@example.com", {"a@example.net"}, kShortMessage).outcome, Outcome::ok);
    SendResult r = pool.send("s@example.com", {"a@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail);
    EXPECT_NE(r.reply.find("lost connection with 127.0.0.1:"), std::string::npos) << r.reply;
    EXPECT_NE(r.reply.find("while receiving reply to BDAT"), std::string::npos) << r.reply;
    EXPECT_EQ(server.messages(), 2);
    EXPECT_EQ(server.connections(), 1) << "no retry once the chunk is out";
}

TEST(SmtpFake, RefusedMailDecidesForEveryRecipient)
{
    Script script;
    script.reply_to_mail = "553 5.7.1 <s@example.com>: Sender address rejected: not owned by user";
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com", {"a@example.net", "b@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::permfail);
    EXPECT_EQ(r.reply, script.reply_to_mail);
    for (const auto& rr : r.recipients) EXPECT_EQ(rr.reply, script.reply_to_mail);
    EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST(SmtpFake, ReplyLostAfterDotOnReusedConnectionIsNotRetried)
{
    // The second message is read to its dot, then the server hangs up: the
    // message may have been taken, so sending it again could duplicate it.
    Script script;
    script.hang_up_after_dot_of = 2;
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    ASSERT_EQ(pool.send("s@example.com", {"a@example.net"}, kShortMessage).outcome, Outcome::ok);
    SendResult r = pool.send("s@example.com", {"a@example.net", "b@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail);
    EXPECT_NE(r.reply.find("lost connection with 127.0.0.1:"), std::string::npos) << r.reply;
    EXPECT_NE(r.reply.find("while receiving reply to end of data"), std::string::npos) << r.reply;
    EXPECT_EQ(server.messages(), 2);
    EXPECT_EQ(server.connections(), 1) << "no retry after the dot";
}

TEST(SmtpFake, LmtpBrokenReplyMidwayLeavesTheRestUnknown)
{
    // LMTP: the first recipient's reply arrives, then garbage:
    // the first is delivered, the second's fate is unknown, so the message
    // as a whole is tempfail (the caller must not resend to the first).
    Script script;
    script.lmtp = true;
    int calls = 0;
    script.final_reply = [&calls](const std::string& rcpt) -> std::string {
        return ++calls == 1 ? "250 2.0.0 <" + rcpt + "> Saved" : "garbage that is not a reply";
    };
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com", {"a@example.net", "b@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail);
    EXPECT_NE(r.reply.find("malformed reply from 127.0.0.1:"), std::string::npos) << r.reply;
    ASSERT_EQ(r.recipients.size(), 2u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::ok);
    EXPECT_EQ(r.recipients[1].outcome, Outcome::tempfail);
    EXPECT_EQ(r.recipients[1].reply, r.reply);
    EXPECT_EQ(pool.idle_connections(), 0u) << "out of step: not reused";
}

TEST(SmtpFake, RefusingGreetingIsTempfail)
{
    Script script;
    script.greeting = "554 5.7.1 fake.example: no service for you";
    FakeServer server(script);
    SmtpPool pool(Endpoint::parse(server.endpoint()), fast_options());
    SendResult r = pool.send("s@example.com", {"a@example.net"}, kShortMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail) << "our own relay refusing is not the message's fault";
    EXPECT_NE(r.reply.find("refused to talk to me: 554 5.7.1 fake.example: no service for you"), std::string::npos)
        << r.reply;
}

TEST(SmtpFake, SilentServerTimesOut)
{
    // A plain listening socket that never accepts: the kernel completes the
    // handshake, then nothing is ever said. That is all this fault needs.
    Listener silent;
    SmtpOptions options = fast_options();
    options.command_timeout = 200ms;
    SmtpPool pool(Endpoint::parse(silent.endpoint()), options);
    auto start = std::chrono::steady_clock::now();
    SendResult r = pool.send("s@example.com", {"a@example.net"}, kShortMessage);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.outcome, Outcome::tempfail);
    EXPECT_EQ(r.reply, "conversation with 127.0.0.1:" + std::to_string(silent.port) +
                           " timed out after 200 ms while receiving the initial server greeting");
    EXPECT_GE(took, 200ms) << "gave up before its command timeout";
}

TEST(SmtpFake, ConnectTimesOutWhenTheListenQueueIsFull)
{
    // A listening socket with a full accept queue drops new SYNs, so
    // connect() never completes: the connect timeout must end it.
    Listener full(0);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port = htons(static_cast<uint16_t>(full.port));
        ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
        fillers.push_back(fd);
    }
    SmtpOptions options = fast_options();
    options.connect_timeout = 200ms;
    SmtpPool pool(Endpoint::parse(full.endpoint()), options);
    SendResult r = pool.send("s@example.com", {"a@example.net"}, kShortMessage);
    for (int fd : fillers) ::close(fd);
    EXPECT_EQ(r.outcome, Outcome::tempfail);
    EXPECT_EQ(r.reply, "connect to 127.0.0.1:" + std::to_string(full.port) + ": timed out after 200 ms");
}

}  // namespace
}  // namespace sesame::deliver
