-- dynamodb_milters.lua - one miltertest client of dynamodb_milters.sh.
--
-- MODE=mail: sends one message per sender in SENDERS (comma-separated) to
--   bob@example.com through the milter on MILTER_SOCKET; every message must be
--   accepted (the out-of-office reply is the milter's business, counted by
--   the script in smtp-sink's dumps).
-- MODE=rcpt: MAIL FROM SENDERS' first sender, RCPT bob@example.com; prints
--   "refused" (a reply code: 4xx or 5xx), "accepted" or "other".
local sock = os.getenv("MILTER_SOCKET")
local mode = os.getenv("MODE")
local senders = {}
for s in string.gmatch(os.getenv("SENDERS"), "[^,]+") do table.insert(senders, s) end

local t = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "") .. "miltertest_lib.lua")
local function open()
    return t.open(sock, "client.sesame.test", "127.0.0.1", 40)
end

if mode == "rcpt" then
    local conn = open()
    assert(mt.mailfrom(conn, "<" .. senders[1] .. ">") == nil)
    local r = mt.getreply(conn)
    if r == SMFIR_CONTINUE then
        -- Without a policy the milter defers at MAIL FROM already.
        assert(mt.rcptto(conn, "<bob@example.com>") == nil)
        r = mt.getreply(conn)
    end
    if r == SMFIR_REPLYCODE then
        print("refused")
    elseif r == SMFIR_CONTINUE then
        print("accepted")
    else
        print("other")
    end
    mt.disconnect(conn)
    return
end

local failures = 0
for i, sender in ipairs(senders) do
    local conn = open()
    assert(mt.mailfrom(conn, "<" .. sender .. ">") == nil)
    assert(mt.rcptto(conn, "<bob@example.com>") == nil)
    assert(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT refused for " .. sender)
    assert(mt.header(conn, "From", sender) == nil)
    assert(mt.header(conn, "To", "bob@example.com") == nil)
    assert(mt.header(conn, "Subject", "hello " .. i) == nil)
    assert(mt.header(conn, "Message-ID", "<" .. i .. "." .. sender .. "." .. sock:len() .. "@client.sesame.test>") == nil)
    assert(mt.eoh(conn) == nil)
    assert(mt.bodystring(conn, "hi\r\n") == nil)
    assert(mt.eom(conn) == nil)
    local r = mt.getreply(conn)
    if r ~= SMFIR_ACCEPT and r ~= SMFIR_CONTINUE then
        print("FAIL: message from " .. sender .. " not accepted")
        failures = failures + 1
    end
    mt.disconnect(conn)
end
if failures > 0 then error(failures .. " message(s) not accepted") end
print("sent " .. #senders .. " message(s) through " .. sock)
