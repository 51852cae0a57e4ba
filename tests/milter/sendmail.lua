-- sendmail.lua - the filter driven as Sendmail drives it: Sendmail's macro
-- names, sent at the stages and in the order of contrib/sikkermail.mc
-- (connect: j _ {daemon_name} {if_name} {if_addr} {client_addr}; MAIL:
-- i {auth_type} {auth_authen} {auth_ssf} {auth_author} {mail_mailer}
-- {mail_host} {mail_addr}; RCPT: {rcpt_mailer} {rcpt_host} {rcpt_addr};
-- end of message: {msg_id} i, which miltertest cannot send: the "i" of
-- MAIL stands for it). Trust must come from {auth_authen} alone (the
-- client is not in InternalNetworks), and the reference is the "i"
-- Sendmail sent.
-- Daemon configuration: InternalNetworks 192.0.2.0/24, as trusted.lua.
dofile(libdir .. "/common.lua")

local function sendmail_open()
	local conn = mt.connect(socket, 50, 0.1)
	if conn == nil then
		error("mt.connect(" .. socket .. ") failed", 0)
	end
	mt.macro(conn, SMFIC_CONNECT, "j", "mx.sikkermail.test", "_", "client.sikkermail.test [127.0.0.1]",
		 "{daemon_name}", "MTA", "{if_name}", "mx.sikkermail.test", "{if_addr}", "127.0.0.1",
		 "{client_addr}", "127.0.0.1")
	mt.conninfo(conn, "client.sikkermail.test", "127.0.0.1")
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("connect not continued", 0)
	end
	if not mt.test_option(conn, SMFIP_NOHELO) then
		mt.helo(conn, "client.sikkermail.test")
	end
	return conn
end

-- sendmail_send(conn, q, auth, rcpt) - a personal message from alice@kp.dk
local function sendmail_send(conn, q, auth, rcpt)
	if auth ~= nil then
		mt.macro(conn, SMFIC_MAIL, "i", q, "{auth_type}", "PLAIN", "{auth_authen}", auth,
			 "{auth_ssf}", "0", "{auth_author}", auth, "{mail_mailer}", "esmtp",
			 "{mail_host}", "kp.dk", "{mail_addr}", "alice@kp.dk")
	else
		mt.macro(conn, SMFIC_MAIL, "i", q, "{mail_mailer}", "esmtp", "{mail_host}", "kp.dk",
			 "{mail_addr}", "alice@kp.dk")
	end
	mt.mailfrom(conn, "<alice@kp.dk>")
	mt.getreply(conn)
	mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "esmtp", "{rcpt_host}", "gmail.com",
		 "{rcpt_addr}", rcpt)
	mt.rcptto(conn, "<" .. rcpt .. ">")
	mt.getreply(conn)
	return content(conn, {name = "sendmail " .. q,
			      headers = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpt .. ">"},
					 {"Subject", "sendmail"}, {"X-KP-Personal", "yes"}}})
end

local conn = sendmail_open()
sendmail_send(conn, qid(1), "alice", "x@gmail.com")
reply_is(conn, "Sendmail, SASL-authenticated: personal to gmail refused", SMFIR_REPLYCODE)
check(ml_reply(conn, "550", "5.7.1",
	       {"Personoplysninger maa ikke sendes til <x@gmail.com> (freemail)",
		"Personal data may not be sent to <x@gmail.com> (freemail: not even with TLS)",
		"Ref " .. qid(1) .. "; see " .. helpurl}),
      "Sendmail, SASL-authenticated: the bilingual reply, with Sendmail's queue id as Ref")
mt.disconnect(conn)

conn = sendmail_open()
sendmail_send(conn, qid(2), nil, "x@gmail.com")
reply_is(conn, "Sendmail, not authenticated: the flag counts for nothing, delivered",
	 SMFIR_ACCEPT, SMFIR_CONTINUE)
check(deleted(conn, {"X-KP-Personal"}, 1),
      "Sendmail, not authenticated: the flag header removed")
check(tagged(conn, "personal=no; action=deliver; ref=" .. qid(2)),
      "Sendmail, not authenticated: tagged with Sendmail's queue id")
mt.disconnect(conn)

finish()
