-- tempfail.lua - the database is unusable at message time (protocol.sh
-- broke it after start): a personal message is tempfailed, never
-- delivered, even to an internal recipient.
-- Daemon configuration: 127.0.0.1 is internal.
dofile(libdir .. "/common.lua")

local conn = open("127.0.0.1")
send(conn, {name = "database broken", qid = qid(1), from = "alice@kp.dk",
	    rcpts = {"bob@kp.dk"},
	    headers = {{"From", "<alice@kp.dk>"}, {"To", "<bob@kp.dk>"},
		       {"Subject", "db"}, {"X-KP-Personal", "yes"}}})
reply_is(conn, "personal message with a broken database: tempfail",
	 SMFIR_TEMPFAIL, SMFIR_REPLYCODE)
check(not tagged(conn, "personal=yes (header); action=deliver; ref=" .. qid(1)),
      "personal message with a broken database: not tagged as delivered")
mt.disconnect(conn)

finish()
