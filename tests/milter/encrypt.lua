-- encrypt.lua - the encrypt verdict through the milter protocol: the
-- encrypted copy is handed to the MTA (a stand-in SendmailPath that keeps
-- it), then the certificate recipient is taken off the original, which
-- goes on to the others; with nobody left the original is discarded.
-- Daemon configuration: a SecureMailbox, a certificate cached for
-- valid@example.dk, 127.0.0.1 internal.
dofile(libdir .. "/common.lua")

local function msg(name, q, rcpts, extra)
	local m = {name = name, qid = q, from = "alice@kp.dk", rcpts = rcpts,
		headers = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpts[1] .. ">"},
			   {"Subject", name}, {"Message-ID", "<" .. q .. "@kp.dk>"},
			   {"X-KP-Personal", "yes"}}}
	for _, h in ipairs(extra or {}) do
		table.insert(m.headers, h)
	end
	return m
end

local conn = open("127.0.0.1")
send(conn, msg("internal + encrypted", qid(1), {"bob@kp.dk", "valid@example.dk"}))
reply_is(conn, "internal + encrypted: accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(mt.eom_check(conn, MT_RCPTDELETE, "<valid@example.dk>"),
      "internal + encrypted: the certificate recipient is taken off the original")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<bob@kp.dk>"),
      "internal + encrypted: the internal recipient stays on it")
check(tagged(conn, "personal=yes (header); action=encrypt; ref=" .. qid(1)),
      "internal + encrypted: tagged action=encrypt")
mt.disconnect(conn)

conn = open("127.0.0.1")
send(conn, msg("encrypted only", qid(2), {"valid@example.dk"}))
reply_is(conn, "encrypted only: the original is discarded", SMFIR_DISCARD)
mt.disconnect(conn)

-- the sender names a function mailbox that does not exist: refused, in both languages
conn = open("127.0.0.1")
send(conn, msg("unknown mailbox", qid(3), {"valid@example.dk"},
	       {{"X-KP-Secure-Mailbox", "HR <hr@kp.dk>"}}))
reply_is(conn, "unknown mailbox: refused", SMFIR_REPLYCODE)
check(ml_reply(conn, "550", "5.7.1",
	       {"Funktionspostkassen <hr@kp.dk> er ikke sat op til krypteret post",
		"The function mailbox <hr@kp.dk> is not configured for encrypted mail",
		"Ref " .. qid(3) .. "; see " .. helpurl}),
      "unknown mailbox: 550 5.7.1 naming <hr@kp.dk>, in Danish and English, with its Ref")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<valid@example.dk>"),
      "unknown mailbox: nobody taken off")
mt.disconnect(conn)

finish()
