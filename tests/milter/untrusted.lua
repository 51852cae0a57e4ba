-- untrusted.lua - flag headers from an untrusted client are removed,
-- every copy, whatever the case of the name or the folding of the value;
-- the message counts as not personal and is delivered, tagged.
-- Daemon configuration: InternalNetworks 192.0.2.0/24 (127.0.0.1 is not
-- internal); no {auth_authen} is sent.
dofile(libdir .. "/common.lua")

local pnames = {"X-KP-Personal", "x-kp-personal", "X-Kp-Personal"}
local mnames = {"X-KP-Secure-Mailbox", "x-kp-secure-mailbox"}

-- 1. three copies of the personal flag and two of the mailbox header
local conn = open("127.0.0.1")
local q = qid(1)
local r = send(conn, {
	name = "spoofed flags", qid = q, from = "mallory@example.net",
	rcpts = {"x@gmail.com"},
	headers = {
		{"From", "Mallory <mallory@example.net>"},
		{"To", "<x@gmail.com>"},
		{"Subject", "spoofed"},
		{"X-KP-Personal", "yes"},
		{"X-KP-Personal-Note", "not a flag header, keep it"},
		{"x-kp-personal", "ja"},
		{"X-KP-Secure-Mailbox", "hr@kp.dk"},
		{"X-Kp-Personal", "yes,\r\n\tvery much so"},
		{"x-kp-secure-mailbox", "sikker@kp.dk"},
	},
})
reply_is(conn, "spoofed flags: delivered (accept or continue)", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_QUARANTINE), "spoofed flags: not quarantined")
for i = 1, 3 do
	check(deleted(conn, pnames, i), "spoofed flags: X-KP-Personal copy " .. i .. " deleted")
end
for i = 1, 2 do
	check(deleted(conn, mnames, i), "spoofed flags: X-KP-Secure-Mailbox copy " .. i .. " deleted")
end
check(not deleted(conn, {"X-KP-Personal-Note"}, 1), "spoofed flags: X-KP-Personal-Note kept")
check(not deleted(conn, pnames, 4), "spoofed flags: no fourth X-KP-Personal deletion")
if not check(tagged(conn, "personal=no; action=deliver; ref=" .. q),
	     "spoofed flags: tagged personal=no; action=deliver; ref=QUEUEID") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
mt.disconnect(conn)

-- 2. an untrusted message without flag headers: nothing is deleted
conn = open("127.0.0.1")
q = qid(2)
r = send(conn, {
	name = "no flags", qid = q, from = "someone@example.net",
	rcpts = {"bob@kp.dk"},
	headers = {
		{"From", "<someone@example.net>"},
		{"To", "<bob@kp.dk>"},
		{"Subject", "hello"},
	},
})
reply_is(conn, "no flags: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_HDRDELETE), "no flags: no header deleted")
if not check(tagged(conn, "personal=no; action=deliver; ref=" .. q),
	     "no flags: tagged personal=no") then
	diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
end
mt.disconnect(conn)

finish()
