-- cpr.lua - DetectCPR through the milter protocol: a trusted submitter's
-- message with a CPR number and no flag header. protocol.sh runs it
-- against a DetectCPR monitor daemon (global mode = "monitor": delivered
-- and tagged cpr=1, not personal) and an enforce daemon (mode =
-- "enforce": the number makes the message personal, so it is refused for
-- gmail and delivered, tagged personal=yes (cpr), to an internal address).
dofile(libdir .. "/common.lua")

local body = "Elevliste\r\nNavn: Jens Jensen, CPR-nr. 010190-1238\r\n"

local function msg(name, q, rcpt)
	return {name = name, qid = q, from = "alice@kp.dk", rcpts = {rcpt},
		headers = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpt .. ">"},
			   {"Subject", name}},
		body = body}
end

local conn = open("127.0.0.1")
send(conn, msg("cpr to gmail", qid(1), "x@gmail.com"))
if mode == "monitor" then
	reply_is(conn, "monitor, cpr to gmail: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
	check(tagged(conn, "personal=no; cpr=1; action=deliver; ref=" .. qid(1)),
	      "monitor, cpr to gmail: tagged personal=no; cpr=1")
else
	reply_is(conn, "enforce, cpr to gmail: refused", SMFIR_REPLYCODE)
	check(ml_reply(conn, "550", "5.7.1",
		       {"Personoplysninger maa ikke sendes til <x@gmail.com> (freemail)",
			"Personal data may not be sent to <x@gmail.com> (freemail: not even with TLS)",
			"Ref " .. qid(1) .. "; see " .. helpurl}),
	      "enforce, cpr to gmail: the bilingual 550 naming <x@gmail.com>")
end
mt.disconnect(conn)

conn = open("127.0.0.1")
send(conn, msg("cpr to internal", qid(2), "bob@kp.dk"))
reply_is(conn, mode .. ", cpr to internal: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
if mode == "monitor" then
	check(tagged(conn, "personal=no; cpr=1; action=deliver; ref=" .. qid(2)),
	      "monitor, cpr to internal: tagged personal=no; cpr=1")
else
	check(tagged(conn, "personal=yes (cpr); cpr=1; action=deliver; ref=" .. qid(2)),
	      "enforce, cpr to internal: tagged personal=yes (cpr)")
end
mt.disconnect(conn)

finish()
