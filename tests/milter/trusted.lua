-- trusted.lua - a trusted (SASL-authenticated) submitter: the flag header
-- counts. Personal to freemail is rejected at end of message with the
-- bilingual multi-line reply; other values and classes as SPEC.md 4-5.
-- Daemon configuration: InternalNetworks 192.0.2.0/24 (so only
-- {auth_authen} makes the client trusted), InternalDomains kp.dk, .kp.dk,
-- HelpURL = the global helpurl.
dofile(libdir .. "/common.lua")

local function message(name, q, rcpts, flags)
	local h = {
		{"From", "Alice <alice@kp.dk>"},
		{"To", "<" .. rcpts[1] .. ">"},
		{"Subject", "test " .. name},
	}
	for _, v in ipairs(flags) do
		table.insert(h, {"X-KP-Personal", v})
	end
	return {name = name, qid = q, auth = "alice", from = "alice@kp.dk",
		rcpts = rcpts, headers = h}
end

local function freemail_reply(rcpt, q)
	return {
		"Personoplysninger maa ikke sendes til <" .. rcpt .. "> (freemail)",
		"Personal data may not be sent to <" .. rcpt .. "> (freemail: not even with TLS)",
		"Ref " .. q .. "; see " .. helpurl,
	}
end

-- expect_reject(name, q, rcpts, flags) - rejected with the freemail reply
local function expect_reject(name, n, rcpt, flags)
	local q = qid(n)
	local conn = open("127.0.0.1")
	send(conn, message(name, q, {rcpt}, flags))
	reply_is(conn, name .. ": rejected with a reply code", SMFIR_REPLYCODE)
	check(ml_reply(conn, "550", "5.7.1", freemail_reply(rcpt, q)),
	      name .. ": the exact 550 5.7.1 reply (da, en, ref)")
	check(not mt.eom_check(conn, MT_QUARANTINE), name .. ": not quarantined")
	mt.disconnect(conn)
end

-- expect_deliver(name, n, rcpts, flags, tag)
local function expect_deliver(name, n, rcpts, flags, tag)
	local q = qid(n)
	local conn = open("127.0.0.1")
	send(conn, message(name, q, rcpts, flags))
	reply_is(conn, name .. ": delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
	check(not mt.eom_check(conn, MT_QUARANTINE), name .. ": not quarantined")
	if not check(tagged(conn, tag .. "; ref=" .. q), name .. ": tagged '" .. tag .. "; ref=QUEUEID'") then
		diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
	end
	mt.disconnect(conn)
end

expect_reject("personal to gmail", 1, "x@gmail.com", {"yes"})
expect_reject("value maybe is personal", 2, "x@gmail.com", {"maybe"})
expect_reject("disagreeing copies are personal", 3, "x@hotmail.com", {"no", "yes"})
expect_reject("value true", 4, "x@gmail.com", {"true"})

expect_deliver("value nej is not personal", 5, {"x@gmail.com"}, {"nej"},
	       "personal=no; action=deliver")
expect_deliver("value 0 is not personal", 11, {"x@gmail.com"}, {"0"},
	       "personal=no; action=deliver")
expect_deliver("no flag is not personal", 6, {"x@gmail.com"}, {},
	       "personal=no; action=deliver")
expect_deliver("personal to internal", 7, {"bob@kp.dk"}, {"ja"},
	       "personal=yes (header); action=deliver")
expect_deliver("personal to a subdomain of .kp.dk", 8, {"carol@stud.kp.dk"}, {"1"},
	       "personal=yes (header); action=deliver")

-- A lookalike domain is not internal: class tls, rejected.
local q = qid(9)
local conn = open("127.0.0.1")
send(conn, message("lookalike", q, {"bob@kp.dk.evil.com"}, {"yes"}))
reply_is(conn, "lookalike kp.dk.evil.com: rejected", SMFIR_REPLYCODE)
mt.disconnect(conn)

-- One offending recipient rejects the whole message.
q = qid(10)
conn = open("127.0.0.1")
send(conn, message("mixed", q, {"bob@kp.dk", "x@gmail.com"}, {"yes"}))
reply_is(conn, "internal + gmail: whole message rejected", SMFIR_REPLYCODE)
check(ml_reply(conn, "550", "5.7.1", freemail_reply("x@gmail.com", q)),
      "internal + gmail: the reply names only the offending recipient")
mt.disconnect(conn)

finish()
