-- macros.lua - an MTA that sends no MAIL FROM macros (a customised
-- milter_mail_macros, or an MTA that ignores smfi_setsymlist): the
-- authenticated submitter cannot be recognised, and the filter says so
-- once per connection, not once per message. Run against a daemon with
-- InternalNetworks that do not cover 127.0.0.1.
dofile(libdir .. "/common.lua")

-- bare - one message whose MAIL FROM carries no macros at all.
local function bare(conn, n, name)
	assert(mt.mailfrom(conn, "<alice@kp.dk>") == nil)
	expect_reply(conn, name .. ": MAIL FROM continues", SMFIR_CONTINUE)
	mt.macro(conn, SMFIC_RCPT, "i", qid(n))
	assert(mt.rcptto(conn, "<x@gmail.com>") == nil)
	expect_reply(conn, name .. ": RCPT TO continues", SMFIR_CONTINUE)
	return content(conn, {
		name = name,
		headers = {
			{"From", "Alice <alice@kp.dk>"},
			{"Subject", "no macros " .. n},
			{"X-KP-Personal", "yes"},
		},
	})
end

for c = 1, 2 do
	local conn = open("127.0.0.1")
	for m = 1, 2 do
		local n = (c - 1) * 2 + m
		bare(conn, n, "connection " .. c .. " message " .. m)
		reply_is(conn, "connection " .. c .. " message " .. m ..
			 ": untrusted, delivered (the flag is not the submitter's)",
			 SMFIR_ACCEPT, SMFIR_CONTINUE)
	end
	mt.disconnect(conn)
end

finish()
