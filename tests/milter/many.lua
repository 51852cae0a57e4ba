-- many.lua - one personal message to `n` recipients (a global; 500 if
-- unset), every second one at gmail.com, with a Message-ID and a sender
-- far longer than a log line may hold: the filter refuses it, and its
-- decision is logged as a summary line and one line per recipient, each
-- under the bound (report.sh checks the log).
-- Daemon configuration: the defaults; 127.0.0.1 is internal.
dofile(libdir .. "/common.lua")

local count = tonumber(n or "500")
local rcpts = {}
for i = 1, count do
	if i % 2 == 0 then
		rcpts[i] = string.format("x%d@gmail.com", i)
	else
		rcpts[i] = string.format("u%d@kp.dk", i)
	end
end
local long = string.rep("k", 200)
local conn = open("127.0.0.1")
send(conn, {name = "many", qid = qid(1), from = long .. "@kp.dk", rcpts = rcpts,
	    headers = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpts[1] .. ">"},
		       {"Message-ID", "<" .. string.rep("m", 900) .. "@kp.dk>"},
		       {"Subject", "many"}, {"X-KP-Personal", "yes"}}})
reply_is(conn, count .. " recipients, half at gmail.com: rejected", SMFIR_REPLYCODE)
mt.disconnect(conn)

finish()
