-- routed.lua - recipients with %/! routing or bad syntax are rejected at
-- RCPT TO (550 5.1.3); the rest of the transaction goes on.
-- Daemon configuration: any; the client is trusted by {auth_authen}.
dofile(libdir .. "/common.lua")

local conn = open("127.0.0.1")
local q = qid(1)
mt.macro(conn, SMFIC_MAIL, "i", q, "{auth_type}", "PLAIN", "{auth_authen}", "alice")
assert(mt.mailfrom(conn, "<alice@kp.dk>") == nil)
reply_is(conn, "MAIL FROM continues", SMFIR_CONTINUE)

local bad = {
	"x%gmail.com@kp.dk",
	"x%kp.dk@gmail.com",
	"gmail.com!x@kp.dk",
	"x@gmail..com",
	"x@@kp.dk",
}
for _, a in ipairs(bad) do
	assert(mt.rcptto(conn, "<" .. a .. ">") == nil)
	reply_is(conn, "RCPT TO:<" .. a .. "> rejected", SMFIR_REPLYCODE, SMFIR_REJECT)
end

assert(mt.rcptto(conn, "<\"john doe\"@kp.dk>") == nil)
reply_is(conn, "RCPT TO:<\"john doe\"@kp.dk> (quoted local part) continues", SMFIR_CONTINUE)
assert(mt.rcptto(conn, "<bob@kp.dk>") == nil)
reply_is(conn, "RCPT TO:<bob@kp.dk> after rejected ones continues", SMFIR_CONTINUE)
assert(mt.rcptto(conn, "<Postmaster>") == nil)
reply_is(conn, "RCPT TO:<Postmaster> without a domain continues (RFC 5321)", SMFIR_CONTINUE)
assert(mt.rcptto(conn, "<root>") == nil)
reply_is(conn, "RCPT TO:<root> without a domain rejected", SMFIR_REPLYCODE, SMFIR_REJECT)

content(conn, {name = "routed", headers = {{"From", "<alice@kp.dk>"},
	{"To", "<bob@kp.dk>"}, {"Subject", "routed"}, {"X-KP-Personal", "yes"}}})
reply_is(conn, "message to the good recipients delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
if not check(tagged(conn, "personal=yes (header); action=deliver; ref=" .. q),
	     "the rejected recipients do not count in the decision") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
mt.disconnect(conn)

finish()
