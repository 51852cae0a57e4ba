-- monitor.lua - Mode monitor never rejects or holds: it delivers and
-- tags what it would have done. A subject tag still makes the message
-- personal, and is still taken out of the Subject.
-- Daemon configuration: Mode monitor; 127.0.0.1 is internal;
-- PersonalSubjectTag [sikker].
dofile(libdir .. "/common.lua")

local function msg(name, q, rcpts, flag)
	local h = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpts[1] .. ">"}, {"Subject", name}}
	if flag then
		table.insert(h, {"X-KP-Personal", flag})
	end
	return {name = name, qid = q, from = "alice@kp.dk", rcpts = rcpts, headers = h}
end

local q = qid(1)
local conn = open("127.0.0.1")
send(conn, msg("monitor gmail", q, {"x@gmail.com"}, "yes"))
reply_is(conn, "monitor, personal to gmail: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_QUARANTINE), "monitor, personal to gmail: not quarantined")
if not check(tagged(conn, "personal=yes (header); action=deliver; monitor=reject; ref=" .. q),
	     "monitor, personal to gmail: tagged monitor=reject") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
mt.disconnect(conn)

q = qid(2)
conn = open("127.0.0.1")
send(conn, msg("monitor internal", q, {"bob@kp.dk"}, "yes"))
reply_is(conn, "monitor, personal to internal: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
if not check(tagged(conn, "personal=yes (header); action=deliver; ref=" .. q),
	     "monitor, personal to internal: tagged without monitor=") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
mt.disconnect(conn)

q = qid(3)
conn = open("127.0.0.1")
send(conn, msg("monitor not personal", q, {"x@gmail.com"}, nil))
reply_is(conn, "monitor, not personal: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
if not check(tagged(conn, "personal=no; action=deliver; ref=" .. q),
	     "monitor, not personal: tagged personal=no") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
mt.disconnect(conn)

q = qid(4)
conn = open("127.0.0.1")
send(conn, msg("[sikker] monitor tag", q, {"x@gmail.com"}, nil))
reply_is(conn, "monitor, subject tag to gmail: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
if not check(tagged(conn, "personal=yes (subject); action=deliver; monitor=reject; ref=" .. q),
	     "monitor, subject tag to gmail: tagged personal=yes (subject), monitor=reject") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "monitor tag"),
      "monitor, subject tag to gmail: the tag taken out of the Subject")
mt.disconnect(conn)

finish()
