-- hold.lua - PersonalToFreemail hold: the message is quarantined (the
-- MTA's hold queue) and accepted; a reject for another recipient wins.
-- A held message goes on later: a subject tag is taken out of it too.
-- Daemon configuration: PersonalToFreemail hold; 127.0.0.1 is internal;
-- PersonalSubjectTag [sikker].
dofile(libdir .. "/common.lua")

local function msg(name, q, rcpts)
	return {name = name, qid = q, from = "alice@kp.dk", rcpts = rcpts,
		headers = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpts[1] .. ">"},
			   {"Subject", name}, {"X-KP-Personal", "yes"}}}
end

local conn = open("127.0.0.1")
send(conn, msg("hold", qid(1), {"x@gmail.com"}))
reply_is(conn, "personal to gmail with hold: accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(mt.eom_check(conn, MT_QUARANTINE), "personal to gmail with hold: quarantined")
mt.disconnect(conn)

conn = open("127.0.0.1")
send(conn, msg("reject beats hold", qid(2), {"x@gmail.com", "y@firma-eksempel.dk"}))
reply_is(conn, "gmail (hold) + tls (reject): rejected", SMFIR_REPLYCODE)
check(not mt.eom_check(conn, MT_QUARANTINE), "gmail (hold) + tls (reject): not quarantined")
mt.disconnect(conn)

conn = open("127.0.0.1")
send(conn, msg("internal with hold", qid(3), {"bob@kp.dk"}))
reply_is(conn, "personal to internal: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_QUARANTINE), "personal to internal: not quarantined")
mt.disconnect(conn)

conn = open("127.0.0.1")
send(conn, {name = "held by tag", qid = qid(4), from = "alice@kp.dk", rcpts = {"x@gmail.com"},
	    headers = {{"From", "<alice@kp.dk>"}, {"To", "<x@gmail.com>"},
		       {"Subject", "[sikker] held by tag"}}})
reply_is(conn, "subject tag to gmail with hold: accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(mt.eom_check(conn, MT_QUARANTINE), "subject tag to gmail with hold: quarantined")
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "held by tag"),
      "subject tag to gmail with hold: the tag taken out of the held message's Subject")
mt.disconnect(conn)

finish()
