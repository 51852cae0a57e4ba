-- replay.lua - the messages of a recorded week for tests/replay.sh: the
-- same nine messages, from an authenticated (trusted) submitter, go
-- through each of its daemons (enforce, monitor, DetectCPR off), which
-- record their decisions in one database. Only the end-of-message reply
-- kind is checked here (the replies themselves are protocol.sh's
-- business); replay.sh checks what sikkermail-ctl replay makes of the
-- records.
dofile(libdir .. "/common.lua")

local cpr_body = "Elevliste\r\nNavn: Jens Jensen, CPR-nr. 010190-1238\r\n"

-- The week's messages: recipients, flag header (nil: none), body.
local week = {
	{"personal to a partner", {"p@partner.example", "bob@kp.dk"}, "yes"},
	{"personal to a TLS domain", {"y@firma.example"}, "yes"},
	{"personal to a tunnel", {"w@region-test.dk"}, "yes"},
	{"not personal to a partner", {"q@partner.example"}, "no"},
	{"a CPR number, no flag, to gmail", {"z@gmail.com"}, nil, cpr_body},
	{"personal to gmail", {"f@gmail.com"}, "yes"},
	{"an unclear flag to a partner", {"n@partner.example"}, "maybe"},
	{"personal to a CPR-shaped address", {"0101901234@firma.example"}, "yes"},
	{"personal to a certificate holder", {"valid@example.dk"}, "yes"},
}

for i, w in ipairs(week) do
	local name, rcpts, flag, body = w[1], w[2], w[3], w[4]
	local h = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpts[1] .. ">"},
		   {"Subject", name}, {"Message-ID", "<" .. qid(i) .. "@kp.dk>"}}
	if flag ~= nil then
		table.insert(h, {"X-KP-Personal", flag})
	end
	local conn = open("127.0.0.1")
	send(conn, {name = name, qid = qid(i), auth = "alice", from = "alice@kp.dk",
		    rcpts = rcpts, headers = h, body = body})
	reply_is(conn, name .. ": decided", SMFIR_ACCEPT, SMFIR_CONTINUE, SMFIR_REPLYCODE)
	mt.disconnect(conn)
end

finish()
