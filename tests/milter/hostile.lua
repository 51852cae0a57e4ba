-- hostile.lua - input an MTA may pass on, or a broken or hostile peer may
-- send, straight through the milter protocol. Every case must end in its
-- documented outcome, and the daemon must go on serving.
-- Each header miltertest sends must stay under 1 KB (its own buffer).
-- Daemon configuration: InternalNetworks 192.0.2.0/24, DetectCPR enforce;
-- "trusted" messages carry {auth_authen}.
-- Globals: mode ("all", or "loops": only the messages on one connection),
-- loops (how many).
dofile(libdir .. "/common.lua")
-- a 50 MB message is read whole at its end: more than the default 10 s under a sanitizer
mt.set_timeout(600)

local n = 0
local function q()
	n = n + 1
	return qid(n)
end

-- msg(name, auth, rcpts, headers, body) - one message on a new connection;
-- returns the reply to end of message and the connection (still open).
local function msg(name, auth, rcpts, headers, body)
	local conn = open("127.0.0.1")
	local r = send(conn, {
		name = name, qid = q(), auth = auth, from = "alice@kp.dk",
		rcpts = rcpts, headers = headers, body = body,
	})
	return r, conn
end

local function base(extra)
	local h = {
		{"From", "Alice <alice@kp.dk>"},
		{"To", "<x@gmail.com>"},
		{"Subject", "hostile"},
	}
	for _, e in ipairs(extra or {}) do
		table.insert(h, e)
	end
	return h
end

local function outcome(conn, name, want)
	reply_is(conn, name, table.unpack(want))
	mt.disconnect(conn)
end

local ACCEPTED = {SMFIR_ACCEPT, SMFIR_CONTINUE}
local REFUSED = {SMFIR_REPLYCODE, SMFIR_REJECT}

loops = tonumber(loops)
if mode ~= "loops" then
	-- header limits: a trusted message keeps its header (for encryption).
	-- (miltertest cannot send a header field over 1 KB: e2e/hostile.sh
	-- sends the long ones through Postfix.)
	local r, conn
	local many = base()
	for i = 1, 10000 do
		table.insert(many, {string.format("X-Filler-%05d", i), string.rep("b", 100)})
	end
	-- (refused when it must be encrypted: t_pipeline; here nothing needs the header)
	r, conn = msg("10,000 headers, trusted", "alice", {"bob@kp.dk"}, many)
	outcome(conn, "10,000 headers (1.2 MB), trusted, internal: delivered (the header is not needed)",
		ACCEPTED)
	r, conn = msg("10,000 headers, untrusted", nil, {"bob@kp.dk"}, many)
	outcome(conn, "10,000 headers, untrusted: delivered", ACCEPTED)

	-- odd bytes in values and names
	r, conn = msg("bare LF in the flag", "alice", {"x@gmail.com"},
		      base({{"X-KP-Personal", "no\nyes"}}))
	outcome(conn, "bare LF in the flag value: not a clear no, so personal: refused", REFUSED)
	r, conn = msg("bare CR in the flag", "alice", {"x@gmail.com"},
		      base({{"X-KP-Personal", "no\ryes"}}))
	outcome(conn, "bare CR in the flag value: personal: refused", REFUSED)
	r, conn = msg("NUL in a value", "alice", {"x@gmail.com"},
		      base({{"X-Note", "a\0b"}, {"X-KP-Personal", "no"}}))
	outcome(conn, "NUL in a header value: delivered (flag no)", ACCEPTED)
	r, conn = msg("8-bit header name", "alice", {"x@gmail.com"},
		      base({{"X-KP-Pers\195\182nal", "yes"}, {"X-KP-Personal", "no"}}))
	outcome(conn, "8-bit header name: not the flag; flag no: delivered", ACCEPTED)

	-- the flag header in other shapes
	r, conn = msg("folded flag", "alice", {"x@gmail.com"},
		      base({{"X-KP-Personal", "\r\n\tyes"}}))
	outcome(conn, "folded flag yes: refused", REFUSED)
	r, conn = msg("encoded flag", "alice", {"x@gmail.com"},
		      base({{"X-KP-Personal", "=?utf-8?q?no?="}}))
	outcome(conn, "RFC 2047-encoded flag: not a clear no: refused", REFUSED)
	r, conn = msg("flag in a MIME part", "alice", {"x@gmail.com"},
		      base({{"MIME-Version", "1.0"},
			    {"Content-Type", "multipart/mixed; boundary=\"b\""}}),
		      "--b\r\nX-KP-Personal: yes\r\nContent-Type: text/plain\r\n\r\nHej\r\n--b--\r\n")
	outcome(conn, "flag only in a MIME part: not the message's flag: delivered", ACCEPTED)

	-- MIME that cannot be scanned is personal under DetectCPR enforce
	r, conn = msg("message/partial", "alice", {"x@gmail.com"},
		      base({{"MIME-Version", "1.0"},
			    {"Content-Type", "message/partial; id=\"abc@kp.dk\"; number=1; total=2"}}),
		      "Subject: part\r\n\r\nCPR 010190-12\r\n")
	outcome(conn, "message/partial: cannot be scanned whole: personal: refused", REFUSED)
	r, conn = msg("multipart without boundary", "alice", {"x@gmail.com"},
		      base({{"MIME-Version", "1.0"}, {"Content-Type", "multipart/mixed"}}),
		      "--x\r\nContent-Type: text/plain\r\n\r\nHej\r\n--x--\r\n")
	outcome(conn, "multipart without boundary: scanned as it is: delivered", ACCEPTED)
	local nest, tail = "", ""
	for i = 1, 101 do
		nest = nest .. "--b" .. i .. "\r\nContent-Type: multipart/mixed; boundary=\"b" ..
		       (i + 1) .. "\"\r\n\r\n"
		tail = "\r\n--b" .. i .. "--\r\n" .. tail
	end
	r, conn = msg("nested 101 deep", "alice", {"x@gmail.com"},
		      base({{"MIME-Version", "1.0"},
			    {"Content-Type", "multipart/mixed; boundary=\"b1\""}}),
		      nest .. "--b102\r\nContent-Type: text/plain\r\n\r\nHej\r\n--b102--" .. tail)
	outcome(conn, "multipart nested 101 deep: cannot be scanned: personal: refused", REFUSED)

	-- 5,000 recipients
	local rcpts = {}
	for i = 1, 5000 do
		rcpts[i] = string.format("user%04d@kp.dk", i)
	end
	r, conn = msg("5,000 recipients", "alice", rcpts, base({{"X-KP-Personal", "yes"}}))
	outcome(conn, "5,000 internal recipients, personal: delivered", ACCEPTED)

	-- a 50 MB body, scanned for CPR numbers on the way
	conn = open("127.0.0.1")
	mt.macro(conn, SMFIC_MAIL, "i", q(), "{auth_authen}", "alice", "{mail_addr}", "alice@kp.dk")
	assert(mt.mailfrom(conn, "<alice@kp.dk>") == nil)
	expect_reply(conn, "50 MB: MAIL FROM", SMFIR_CONTINUE)
	assert(mt.rcptto(conn, "<bob@kp.dk>") == nil)
	expect_reply(conn, "50 MB: RCPT TO", SMFIR_CONTINUE)
	for _, h in ipairs(base({{"X-KP-Personal", "no"}})) do
		assert(mt.header(conn, h[1], h[2]) == nil)
	end
	assert(mt.eoh(conn) == nil)
	local chunk = string.rep("Lorem ipsum dolor sit amet 0123456789\r\n", 1600)	-- 64 KB
	for i = 1, 800 do
		assert(mt.bodystring(conn, chunk) == nil)
	end
	assert(mt.eom(conn) == nil)
	outcome(conn, "50 MB body: scanned and delivered", ACCEPTED)

end

-- many messages on one connection
do
	local conn = open("127.0.0.1")
	for i = 1, loops do
		send(conn, {
			name = "loop " .. i, qid = q(), auth = "alice", from = "alice@kp.dk",
			rcpts = {"bob@kp.dk"}, headers = base({{"X-KP-Personal", "yes"}}),
		})
		if not mt.eom_check(conn, MT_HDRINSERT, "X-Sikkermail") and i % 100 == 0 then
			check(false, "loop: message " .. i .. " tagged")
		end
	end
	reply_is(conn, loops .. " messages on one connection: the last delivered", SMFIR_ACCEPT,
		 SMFIR_CONTINUE)
	mt.disconnect(conn)
end

if mode ~= "loops" then
	-- a connection that closes before anything is said
	local conn = mt.connect(socket, 50, 0.1)
	mt.disconnect(conn, false)
	conn = mt.connect(socket, 50, 0.1)
	mt.disconnect(conn)
	check(true, "connections closed before and after negotiation")
end

-- abort and connection loss after every stage
local stages = {"connect", "helo", "mail", "rcpt", "header", "eoh", "body"}
for _, stage in ipairs(mode ~= "loops" and stages or {}) do
	for _, how in ipairs({"abort", "drop"}) do
		local conn = mt.connect(socket, 50, 0.1)
		local done = false
		local function step(s, f)
			if done then
				return
			end
			f()
			if s == stage then
				done = true
			end
		end
		step("connect", function()
			mt.macro(conn, SMFIC_CONNECT, "j", "mx.sikkermail.test")
			assert(mt.conninfo(conn, "client.sikkermail.test", "127.0.0.1") == nil)
		end)
		step("helo", function()
			-- the filter has no HELO callback and negotiates the step away
			if not mt.test_option(conn, SMFIP_NOHELO) then
				assert(mt.helo(conn, "client") == nil)
			end
		end)
		step("mail", function()
			mt.macro(conn, SMFIC_MAIL, "i", q(), "{auth_authen}", "alice",
				 "{mail_addr}", "alice@kp.dk")
			assert(mt.mailfrom(conn, "<alice@kp.dk>") == nil)
		end)
		step("rcpt", function() assert(mt.rcptto(conn, "<x@gmail.com>") == nil) end)
		step("header", function() assert(mt.header(conn, "X-KP-Personal", "yes") == nil) end)
		step("eoh", function() assert(mt.eoh(conn) == nil) end)
		step("body", function() assert(mt.bodystring(conn, "CPR 010190-1238\r\n") == nil) end)
		if how == "abort" then
			mt.abort(conn)
			mt.disconnect(conn)
		else
			mt.disconnect(conn, false)
		end
	end
end
-- and the daemon still serves
local _, conn = msg("after the aborts", "alice", {"x@gmail.com"}, base({{"X-KP-Personal", "yes"}}))
outcome(conn, "after an abort and a dropped connection at each of " .. #stages ..
	" stages: still serving (personal to gmail refused)", REFUSED)

finish()
