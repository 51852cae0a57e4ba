-- subject.lua - PersonalSubjectTag: a tag in a trusted submitter's
-- Subject makes the message personal (source "subject") and is taken out
-- of the Subject that goes on; from an untrusted client it means nothing
-- and the Subject is left alone.
-- Daemon configuration: InternalNetworks 192.0.2.0/24 (only {auth_authen}
-- makes 127.0.0.1 trusted); PersonalSubjectTag [sikker] and
-- [personfølsom]; DetectCPR enforce.
dofile(libdir .. "/common.lua")

local function msg(name, q, rcpt, subjects, extra, auth)
	local h = {{"From", "<alice@kp.dk>"}, {"To", "<" .. rcpt .. ">"}}
	for _, s in ipairs(subjects) do
		table.insert(h, {"Subject", s})
	end
	for _, e in ipairs(extra or {}) do
		table.insert(h, e)
	end
	return {name = name, qid = q, from = "alice@kp.dk", rcpts = {rcpt}, headers = h,
		auth = auth == nil and "alice" or auth or nil}
end

local function tag_is(conn, name, value)
	if not check(tagged(conn, value), name .. ": tagged " .. value) then
		diag("  X-Sikkermail: " .. tostring(tag_value(conn)))
	end
end

-- 1. trusted, tag in the middle, to an internal recipient: delivered,
-- personal from the subject, the Subject changed to the text without it
local q = qid(1)
local conn = open("127.0.0.1")
send(conn, msg("tag, internal", q, "bob@kp.dk", {"Referat [SIKKER] fra mødet"}))
reply_is(conn, "tag, internal: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
tag_is(conn, "tag, internal", "personal=yes (subject); action=deliver; ref=" .. q)
if not check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "=?UTF-8?B?UmVmZXJhdCBmcmEgbcO4ZGV0?="),
	     "tag, internal: Subject changed to \"Referat fra mødet\", encoded") then
	diag("  Subject: " .. tostring(mt.getheader(conn, "Subject", 0)))
end
check(not mt.eom_check(conn, MT_HDRDELETE, "Subject"), "tag, internal: Subject not deleted")
mt.disconnect(conn)

-- 2. trusted, Q-encoded tag, to gmail: refused as personal
q = qid(2)
conn = open("127.0.0.1")
send(conn, msg("encoded tag, gmail", q, "x@gmail.com",
	       {"=?UTF-8?Q?=5BPERSONF=C3=98LSOM=5D_Ans=C3=B8gning?="}))
reply_is(conn, "encoded tag, gmail: rejected", SMFIR_REPLYCODE)
mt.disconnect(conn)

-- 3. trusted, ASCII Subject with the tag at the start: written back as it is
q = qid(3)
conn = open("127.0.0.1")
send(conn, msg("ascii tag", q, "bob@kp.dk", {"[sikker]   Budget 2027"}))
reply_is(conn, "ascii tag: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "Budget 2027"),
      "ascii tag: Subject changed to \"Budget 2027\"")
mt.disconnect(conn)

-- 4. two Subject fields: one only the tag (deleted), one with it (changed)
q = qid(4)
conn = open("127.0.0.1")
send(conn, msg("two subjects", q, "bob@kp.dk", {"[sikker]", "Referat [sikker]"}))
reply_is(conn, "two subjects: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "Referat"),
      "two subjects: the second changed to \"Referat\"")
check(mt.eom_check(conn, MT_HDRDELETE, "Subject"),
      "two subjects: the one that was only the tag deleted")
tag_is(conn, "two subjects", "personal=yes (subject); action=deliver; ref=" .. q)
mt.disconnect(conn)

-- 5. X-KP-Personal: no and a tag: fail safe, personal; to gmail refused
q = qid(5)
conn = open("127.0.0.1")
send(conn, msg("header no + tag", q, "x@gmail.com", {"Svar [sikker]"}, {{"X-KP-Personal", "no"}}))
reply_is(conn, "header no + tag: rejected", SMFIR_REPLYCODE)
mt.disconnect(conn)

-- 6. X-KP-Personal: yes and a tag: the header is the source; the tag still goes
q = qid(6)
conn = open("127.0.0.1")
send(conn, msg("header yes + tag", q, "bob@kp.dk", {"Svar [sikker]"}, {{"X-KP-Personal", "yes"}}))
reply_is(conn, "header yes + tag: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
tag_is(conn, "header yes + tag", "personal=yes (header); action=deliver; ref=" .. q)
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "Svar"), "header yes + tag: Subject changed")
mt.disconnect(conn)

-- 7. a CPR number next to the tag: personal from the subject, and the
-- number stays out of the log (protocol.sh reads the log)
q = qid(7)
conn = open("127.0.0.1")
send(conn, msg("tag + cpr", q, "bob@kp.dk", {"[sikker] sag 010190-1238"}))
reply_is(conn, "tag + cpr: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
tag_is(conn, "tag + cpr", "personal=yes (subject); cpr=1; action=deliver; ref=" .. q)
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "sag 010190-1238"),
      "tag + cpr: Subject changed, the rest kept")
mt.disconnect(conn)

-- 8. no tag: nothing changed
q = qid(8)
conn = open("127.0.0.1")
send(conn, msg("no tag", q, "x@gmail.com", {"sikker mail om frokost"}))
reply_is(conn, "no tag: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "no tag: Subject unchanged")
tag_is(conn, "no tag", "personal=no; action=deliver; ref=" .. q)
mt.disconnect(conn)

-- 9. untrusted (no authentication, 127.0.0.1 not internal): the tag means
-- nothing, the Subject is left as it is
q = qid(9)
conn = open("127.0.0.1")
send(conn, msg("untrusted tag", q, "x@gmail.com", {"[sikker] Referat"}, nil, false))
reply_is(conn, "untrusted tag: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "untrusted tag: Subject unchanged")
check(not mt.eom_check(conn, MT_HDRDELETE, "Subject"), "untrusted tag: Subject not deleted")
tag_is(conn, "untrusted tag", "personal=no; action=deliver; ref=" .. q)
mt.disconnect(conn)

finish()
