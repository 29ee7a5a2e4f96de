-- miltertest_lib.lua - what the miltertest scripts share:
--   local t = dofile(<this file>)   (each script finds it next to itself)
--   t.check(what, cond)   prints "ok: what" or "FAIL: what" and counts it;
--   t.open(sock, helo_host, addr[, seconds])   a milter connection past
--                         its connect stage (asserts it was not refused);
--   t.run(cases)          runs every case of the table by name, in sorted
--                         order, each under pcall (miltertest exits 1
--                         without printing a Lua error()), prints the
--                         failures and exits 1 if there were any.
local t = {failures = 0}

function t.check(what, cond)
    if cond then
        print("ok: " .. what)
    else
        print("FAIL: " .. what)
        t.failures = t.failures + 1
    end
end

function t.open(sock, host, addr, seconds)
    local conn = mt.connect("unix:" .. sock, seconds or 20, 0.25)
    assert(conn, "cannot connect to " .. sock)
    assert(mt.conninfo(conn, host, addr) == nil, "conninfo failed")
    assert(mt.getreply(conn) == SMFIR_CONTINUE, "conninfo refused")
    return conn
end

function t.run(cases)
    local names = {}
    for name in pairs(cases) do table.insert(names, name) end
    table.sort(names)
    for _, name in ipairs(names) do
        local ok, err = pcall(cases[name])
        if not ok then
            print("FAIL: " .. name .. ": " .. tostring(err))
            t.failures = t.failures + 1
        else
            print("done: " .. name)
        end
    end
    print(t.failures .. " failed")
    if t.failures > 0 then os.exit(1) end
end

return t
