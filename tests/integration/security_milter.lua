-- security_milter.lua - hostile mail through sesame-milter at the protocol
-- level (miltertest), for security_milter.sh, which starts the milter on
-- $MILTER_SOCKET with SRS for example.com and these rules:
--   away@example.com: out of office, subject and text with CR LF in them;
--   auto@example.com: out of office, no subject ("Auto: <original>");
--   fwd@example.com: forward to out@other.example;
--   dirty@example.com: forward to good@other.example plus targets that are
--     not addresses (CR LF, "RCPT TO:<...>", angle brackets).
-- $SRS_VALID, $SRS_EXPIRED, $SRS_FORGED: SRS addresses for
-- alice@friend.example (the hash's case changed; 30 days old; a guessed
-- hash). The shell script checks what reached the reinjection sink.
-- Every case runs under pcall (miltertest_lib.lua: miltertest exits 1
-- without printing a Lua error()), and failures are printed.

local sock = os.getenv("MILTER_SOCKET")
local t = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "") .. "miltertest_lib.lua")
local check = t.check

local function open()
    return t.open(sock, "client.attacker.example", "192.0.2.66")
end

-- One whole message: sender, recipients, headers ({name, value} pairs).
-- Returns the connection after end of message, for eom_check.
local function message(sender, rcpts, headers)
    local conn = open()
    mt.macro(conn, SMFIC_MAIL, "i", "SECQ")
    assert(mt.mailfrom(conn, sender) == nil)
    assert(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL FROM " .. sender .. " refused")
    for _, r in ipairs(rcpts) do
        assert(mt.rcptto(conn, r) == nil)
        assert(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT " .. r .. " refused")
    end
    for _, h in ipairs(headers) do assert(mt.header(conn, h[1], h[2]) == nil) end
    assert(mt.eoh(conn) == nil)
    assert(mt.bodystring(conn, "hello\r\n") == nil)
    assert(mt.eom(conn) == nil)
    local r = mt.getreply(conn)
    check(sender .. " -> " .. rcpts[1] .. ": accepted", r == SMFIR_CONTINUE or r == SMFIR_ACCEPT)
    return conn
end

local function rcpt_refused(addr)
    local conn = open()
    assert(mt.mailfrom(conn, "<>") == nil)
    assert(mt.rcptto(conn, "<" .. addr .. ">") == nil)
    local r = mt.getreply(conn)
    mt.disconnect(conn)
    return r == SMFIR_REPLYCODE
end

local cases = {}

cases["01 a guessed SRS hash is refused at RCPT"] = function()
    check("RCPT " .. os.getenv("SRS_FORGED") .. " refused", rcpt_refused(os.getenv("SRS_FORGED")))
end

cases["02 an SRS address older than 21 days is refused at RCPT"] = function()
    check("RCPT " .. os.getenv("SRS_EXPIRED") .. " refused", rcpt_refused(os.getenv("SRS_EXPIRED")))
end

cases["03 a genuine SRS bounce is reversed, whatever the hash's case"] = function()
    local srs = "<" .. os.getenv("SRS_VALID") .. ">"
    local conn = message("<>", {srs}, {{"From", "MAILER-DAEMON@other.example"}, {"Subject", "case bounce"}})
    check("the SRS recipient removed", mt.eom_check(conn, MT_RCPTDELETE, srs))
    check("the original sender added", mt.eom_check(conn, MT_RCPTADD, "<alice@friend.example>"))
    mt.disconnect(conn)
end

local function hostile_headers(to, subject)
    return {{"From", "CEO <ceo@victim.example>"}, {"Reply-To", "attacker@attacker.example"}, {"To", to},
            {"Subject", subject}, {"Message-ID", "<1@attacker.example>"}}
end

cases["04 a reply goes to the envelope sender, not From or Reply-To"] = function()
    mt.disconnect(message("<forged@victim.example>", {"<away@example.com>"},
        hostile_headers("away@example.com", "case reply")))
end

cases["05 the same sender, in other case, gets no second reply"] = function()
    mt.disconnect(message("<FORGED@Victim.Example>", {"<away@example.com>"},
        hostile_headers("away@example.com", "case reply again")))
end

cases["06 an encoded line break in the Subject"] = function()
    mt.disconnect(message("<encoded@victim.example>", {"<auto@example.com>"},
        hostile_headers("auto@example.com", "=?utf-8?q?Hi=0D=0ABcc:_victim@victim.example=0D=0A=0D=0Abody?=")))
end

cases["07 no reply to bulk, list, null-sender or Bcc mail"] = function()
    local bulk = hostile_headers("away@example.com", "case bulk")
    table.insert(bulk, {"Precedence", "bulk"})
    mt.disconnect(message("<bulk@victim.example>", {"<away@example.com>"}, bulk))
    local list = hostile_headers("away@example.com", "case list")
    table.insert(list, {"List-Id", "<news.victim.example>"})
    mt.disconnect(message("<list@victim.example>", {"<away@example.com>"}, list))
    mt.disconnect(message("<>", {"<away@example.com>"}, hostile_headers("away@example.com", "case null")))
    mt.disconnect(message("<bcc@victim.example>", {"<away@example.com>"},
        hostile_headers("someone@example.com", "case bcc")))
end

cases["08 a rule with targets that are not addresses"] = function()
    local conn = message("<a@friend.example>", {"<dirty@example.com>"},
        {{"From", "a@friend.example"}, {"To", "dirty@example.com"}, {"Subject", "case dirty forward"}})
    for _, r in ipairs({"<evil@attacker.example>", "<bad@other.example>", "<good@other.example>"}) do
        check("no recipient " .. r .. " added (the valid target is external: a copy, not a recipient)",
            not mt.eom_check(conn, MT_RCPTADD, r))
    end
    mt.disconnect(conn)
end

cases["09 a clean forward still goes out"] = function()
    mt.disconnect(message("<a@friend.example>", {"<fwd@example.com>"},
        {{"From", "a@friend.example"}, {"To", "fwd@example.com"}, {"Subject", "case clean forward"}}))
end

cases["10 the message can only take a forward away"] = function()
    mt.disconnect(message("<a@friend.example>", {"<fwd@example.com>"},
        {{"Delivered-To", "out@other.example"}, {"To", "fwd@example.com"}, {"Subject", "case no forward 1"}}))
    local conn = message("<a@friend.example>", {"<fwd@example.com>"},
        {{"X-Sesame-Processed", "forwarded"}, {"To", "fwd@example.com"}, {"Subject", "case no forward 2"}})
    check("the loop-marked message is kept for the mailbox", not mt.eom_check(conn, MT_RCPTDELETE, "<fwd@example.com>"))
    mt.disconnect(conn)
end

t.run(cases)
