-- common.lua - helpers for the miltertest scripts; loaded with
-- dofile(libdir .. "/common.lua"). protocol.sh defines the globals
-- socket (unix:PATH of the running daemon), libdir and helpurl.
--
-- A script reports each check as a line "ok - NAME" or "not ok - NAME"
-- (protocol.sh turns them into numbered TAP), "# ..." for diagnostics,
-- and "done" when it ran to its end. finish() raises an error when a
-- check failed, so miltertest also exits non-zero.
--
-- Exports: check, diag, finish, open, send, content, reply_is, expect_reply,
-- tagged, tag_value, deleted, ml_reply, qid.

local nfailed = 0

function check(cond, name)
	if cond then
		mt.echo("ok - " .. name)
	else
		mt.echo("not ok - " .. name)
		nfailed = nfailed + 1
	end
	return cond
end

function diag(s)
	mt.echo("# " .. tostring(s))
end

function finish()
	mt.echo("done")
	if nfailed > 0 then
		error(nfailed .. " check(s) failed", 0)
	end
end

local function must(err, what)
	if err ~= nil then
		error(what .. ": " .. tostring(err), 0)
	end
end

local reply_names = {
	[SMFIR_CONTINUE] = "continue", [SMFIR_ACCEPT] = "accept",
	[SMFIR_REJECT] = "reject", [SMFIR_TEMPFAIL] = "tempfail",
	[SMFIR_DISCARD] = "discard", [SMFIR_REPLYCODE] = "replycode",
}

-- reply_is(conn, what, ...) - the last reply is one of the SMFIR_* given.
function reply_is(conn, name, ...)
	local got = mt.getreply(conn)
	for _, want in ipairs({...}) do
		if got == want then
			return check(true, name)
		end
	end
	check(false, name)
	diag("  got reply " .. (reply_names[got] or tostring(got)))
	return false
end

-- expect_reply(conn, name, want) - like reply_is, but reports only a
-- failure (for the protocol steps every message goes through).
function expect_reply(conn, name, want)
	local got = mt.getreply(conn)
	if got ~= want then
		check(false, name)
		diag("  got reply " .. (reply_names[got] or tostring(got)))
	end
end

-- qid(n) - a queue id in Postfix's short format (hex), unique per script.
function qid(n)
	return string.format("%s%04X", qid_prefix or "5A1B2C", n)
end

-- open(ip) - a negotiated connection from client ip, after HELO.
function open(ip)
	local conn = mt.connect(socket, 50, 0.1)
	if conn == nil then
		error("mt.connect(" .. socket .. ") failed", 0)
	end
	mt.macro(conn, SMFIC_CONNECT, "j", "mx.sikkermail.test",
		 "{daemon_name}", "smtpd")
	must(mt.conninfo(conn, "client.sikkermail.test", ip), "mt.conninfo")
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("connect from " .. ip .. " not continued", 0)
	end
	-- The filter may negotiate steps away; miltertest refuses to send them.
	if not mt.test_option(conn, SMFIP_NOHELO) then
		must(mt.helo(conn, "client.sikkermail.test"), "mt.helo")
	end
	return conn
end

-- send(conn, m) - one message up to and including end of message.
--   m.name     label for the checks
--   m.qid      queue id (macro i)
--   m.auth     {auth_authen}, or nil for an unauthenticated client
--   m.from     envelope sender (bare address)
--   m.rcpts    list of envelope recipients (bare addresses)
--   m.headers  list of {name, value}
--   m.body     body text (default a short line)
-- Returns the reply to end of message.
function send(conn, m)
	if m.auth ~= nil then
		mt.macro(conn, SMFIC_MAIL, "i", m.qid, "{auth_type}", "PLAIN",
			 "{auth_authen}", m.auth, "{mail_addr}", m.from)
	else
		mt.macro(conn, SMFIC_MAIL, "i", m.qid, "{mail_addr}", m.from)
	end
	must(mt.mailfrom(conn, "<" .. m.from .. ">"), "mt.mailfrom")
	expect_reply(conn, m.name .. ": MAIL FROM continues", SMFIR_CONTINUE)
	for _, r in ipairs(m.rcpts) do
		mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", r)
		must(mt.rcptto(conn, "<" .. r .. ">"), "mt.rcptto")
		expect_reply(conn, m.name .. ": RCPT TO:<" .. r .. "> continues",
			     SMFIR_CONTINUE)
	end
	return content(conn, m)
end

-- content(conn, m) - headers, end of headers, body and end of message
-- (m.name, m.headers, m.body as for send). Returns the reply to EOM.
function content(conn, m)
	for _, h in ipairs(m.headers) do
		must(mt.header(conn, h[1], h[2]), "mt.header")
		expect_reply(conn, m.name .. ": header " .. h[1] .. " continues",
			     SMFIR_CONTINUE)
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		must(mt.eoh(conn), "mt.eoh")
	end
	if not mt.test_option(conn, SMFIP_NOBODY) then
		must(mt.bodystring(conn, m.body or "Hello, this is a test.\r\n"), "mt.bodystring")
	end
	must(mt.eom(conn), "mt.eom")
	return mt.getreply(conn)
end

-- tag_value(conn) - the X-Sikkermail value added at end of message, or nil.
function tag_value(conn)
	return mt.getheader(conn, "X-Sikkermail", 0)
end

-- tagged(conn, value) - X-Sikkermail added (or inserted) with this value
-- (a leading space in the value is allowed: it is cosmetic).
function tagged(conn, value)
	for _, v in ipairs({value, " " .. value}) do
		if mt.eom_check(conn, MT_HDRADD, "X-Sikkermail", v) or
		   mt.eom_check(conn, MT_HDRINSERT, "X-Sikkermail", v) then
			return true
		end
	end
	return false
end

-- deleted(conn, names, idx) - a header copy idx (1-based, counted over
-- the copies with that name, case-insensitively) was deleted, with the
-- name spelled any of the ways in names.
function deleted(conn, names, idx)
	for _, n in ipairs(names) do
		if mt.eom_check(conn, MT_HDRDELETE, n, idx) then
			return true
		end
	end
	return false
end

-- ml_reply(conn, code, xcode, lines) - the multi-line SMTP reply that
-- smfi_setmlreply(code, xcode, lines...) produces, exactly.
function ml_reply(conn, code, xcode, lines)
	local head = ""
	for i = 1, #lines - 1 do
		head = head .. code .. "-" .. xcode .. " " .. lines[i] .. "\r\n"
	end
	head = head .. code
	return mt.eom_check(conn, MT_SMTPREPLY, head, xcode, lines[#lines])
end
