-- milter_protocol.lua - sesame-milter's replies at the protocol level, driven
-- by miltertest (no Postfix). Run by milter_protocol.sh, which starts the
-- milter on $MILTER_SOCKET with a store where:
--   *@spam.example is blocked for @example.com, carol@example.com blocks
--   *@annoying.example, dave@example.com forwards to erin@example.net.
-- Every case runs under pcall (miltertest_lib.lua: miltertest exits 1
-- without printing a Lua error()), and failures are printed.

local sock = os.getenv("MILTER_SOCKET")
local t = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "") .. "miltertest_lib.lua")
local check = t.check

local function open()
    return t.open(sock, "client.sesame.test", "127.0.0.1")
end

local cases = {}

cases["a blocked envelope sender is refused at RCPT"] = function()
    local conn = open()
    assert(mt.helo(conn, "client.sesame.test") == nil)
    mt.macro(conn, SMFIC_MAIL, "i", "TESTQ1")
    assert(mt.mailfrom(conn, "<offers@spam.example>") == nil)
    check("MAIL FROM accepted", mt.getreply(conn) == SMFIR_CONTINUE)
    assert(mt.rcptto(conn, "<bob@example.com>") == nil)
    check("RCPT bob refused with a reply code", mt.getreply(conn) == SMFIR_REPLYCODE)
    mt.disconnect(conn)
end

cases["a recipient who blocks nobody of this sender goes on"] = function()
    local conn = open()
    assert(mt.mailfrom(conn, "<news@annoying.example>") == nil)
    assert(mt.rcptto(conn, "<carol@example.com>") == nil)
    check("RCPT carol refused", mt.getreply(conn) == SMFIR_REPLYCODE)
    assert(mt.rcptto(conn, "<bob@example.com>") == nil)
    check("RCPT bob accepted", mt.getreply(conn) == SMFIR_CONTINUE)
    mt.disconnect(conn)
end

cases["a From-header block removes that recipient at end of message"] = function()
    local conn = open()
    assert(mt.mailfrom(conn, "<bounce@esp.example>") == nil)
    assert(mt.rcptto(conn, "<carol@example.com>") == nil)
    assert(mt.rcptto(conn, "<dave@other.example>") == nil)
    assert(mt.header(conn, "From", "Pest <pest@annoying.example>") == nil)
    assert(mt.header(conn, "Subject", "hello") == nil)
    assert(mt.eoh(conn) == nil)
    assert(mt.bodystring(conn, "hi\r\n") == nil)
    assert(mt.eom(conn) == nil)
    check("message accepted for the rest", mt.getreply(conn) == SMFIR_ACCEPT or mt.getreply(conn) == SMFIR_CONTINUE)
    check("carol removed", mt.eom_check(conn, MT_RCPTDELETE, "<carol@example.com>"))
    check("dave kept", not mt.eom_check(conn, MT_RCPTDELETE, "<dave@other.example>"))
    mt.disconnect(conn)
end

cases["too many Received headers is refused at end of header"] = function()
    local conn = open()
    assert(mt.mailfrom(conn, "<a@friend.example>") == nil)
    assert(mt.rcptto(conn, "<bob@example.com>") == nil)
    for i = 1, 31 do
        assert(mt.header(conn, "Received", "from hop" .. i .. " by hop" .. (i + 1)) == nil)
    end
    assert(mt.eoh(conn) == nil)
    check("refused with a reply code", mt.getreply(conn) == SMFIR_REPLYCODE)
    mt.disconnect(conn)
end

cases["an internal forward adds the target and the marker"] = function()
    local conn = open()
    assert(mt.mailfrom(conn, "<a@friend.example>") == nil)
    assert(mt.rcptto(conn, "<dave@example.com>") == nil)
    assert(mt.header(conn, "From", "a@friend.example") == nil)
    assert(mt.header(conn, "To", "dave@example.com") == nil)
    assert(mt.eoh(conn) == nil)
    assert(mt.bodystring(conn, "hi\r\n") == nil)
    assert(mt.eom(conn) == nil)
    check("erin added", mt.eom_check(conn, MT_RCPTADD, "<erin@example.net>"))
    check("marker added", mt.eom_check(conn, MT_HDRADD, "X-Sesame-Processed"))
    check("dave kept", not mt.eom_check(conn, MT_RCPTDELETE, "<dave@example.com>"))
    mt.disconnect(conn)
end

cases["a loop-marked message is not forwarded"] = function()
    local conn = open()
    assert(mt.mailfrom(conn, "<a@friend.example>") == nil)
    assert(mt.rcptto(conn, "<dave@example.com>") == nil)
    assert(mt.header(conn, "X-Sesame-Processed", "forwarded") == nil)
    assert(mt.eoh(conn) == nil)
    assert(mt.bodystring(conn, "hi\r\n") == nil)
    assert(mt.eom(conn) == nil)
    check("erin not added", not mt.eom_check(conn, MT_RCPTADD, "<erin@example.net>"))
    mt.disconnect(conn)
end

cases["SASL-authenticated senders are not subject to the blocklist"] = function()
    local conn = open()
    assert(mt.helo(conn, "client.sesame.test") == nil)
    mt.macro(conn, SMFIC_MAIL, "{auth_authen}", "bob")
    assert(mt.mailfrom(conn, "<offers@spam.example>") == nil)
    assert(mt.rcptto(conn, "<bob@example.com>") == nil)
    check("RCPT accepted", mt.getreply(conn) == SMFIR_CONTINUE)
    mt.disconnect(conn)
end

t.run(cases)
