-- steps.lua - the protocol steps the filter negotiates: none it has no
-- callback for (HELO), no reply where it always continues (connect,
-- headers, end of headers), and for the body either no replies (it scans
-- for CPR numbers: scanning=yes) or SMFIS_SKIP for a body it will not
-- read (scanning=no, DetectCPR off). Daemon: 127.0.0.1 internal.
dofile(libdir .. "/common.lua")

local conn = open("127.0.0.1")
check(mt.test_option(conn, SMFIP_NOHELO), "HELO is not sent (no HELO callback)")
check(mt.test_option(conn, SMFIP_NR_CONN), "connect is not answered")
check(mt.test_option(conn, SMFIP_NR_HDR), "headers are not answered")
check(mt.test_option(conn, SMFIP_NR_EOH), "end of headers is not answered")
for _, step in ipairs({"NOMAIL", "NORCPT", "NOHDRS", "NOEOH", "NOBODY", "NR_MAIL", "NR_RCPT"}) do
	check(not mt.test_option(conn, _G["SMFIP_" .. step]), "SMFIP_" .. step .. " is not asked for")
end
if scanning == "yes" then
	check(mt.test_option(conn, SMFIP_NR_BODY), "scanning: body chunks are not answered")
	check(not mt.test_option(conn, SMFIP_SKIP), "scanning: no SMFIS_SKIP")
else
	check(not mt.test_option(conn, SMFIP_NR_BODY), "not scanning: body chunks are answered")
	check(mt.test_option(conn, SMFIP_SKIP), "not scanning: SMFIS_SKIP is negotiated")
end

-- body(conn, name, q, headers) - one message to bob@kp.dk up to its
-- first body chunk; returns the reply to that chunk.
local function body(conn, name, q, headers)
	mt.macro(conn, SMFIC_MAIL, "i", q, "{mail_addr}", "alice@kp.dk")
	assert(mt.mailfrom(conn, "<alice@kp.dk>") == nil)
	expect_reply(conn, name .. ": MAIL FROM continues", SMFIR_CONTINUE)
	assert(mt.rcptto(conn, "<bob@kp.dk>") == nil)
	expect_reply(conn, name .. ": RCPT TO continues", SMFIR_CONTINUE)
	for _, h in ipairs(headers) do
		assert(mt.header(conn, h[1], h[2]) == nil)
	end
	assert(mt.eoh(conn) == nil)
	assert(mt.bodystring(conn, "Hej Bob,\r\nmoedet er flyttet.\r\n") == nil)
	return mt.getreply(conn)
end

local plain = {{"From", "<alice@kp.dk>"}, {"Subject", "steps"}}
local labelled = {{"From", "<alice@kp.dk>"}, {"Subject", "steps"},
	{"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data"}}
if scanning == "yes" then
	check(body(conn, "scanned", qid(1), plain) == SMFIR_CONTINUE,
	      "scanning: the body is taken in")
	assert(mt.eom(conn) == nil)
	reply_is(conn, "scanning: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
else
	check(body(conn, "not read", qid(1), plain) == SMFIR_SKIP,
	      "not scanning, not personal: the rest of the body is skipped")
	assert(mt.eom(conn) == nil)
	reply_is(conn, "not scanning, not personal: delivered", SMFIR_ACCEPT, SMFIR_CONTINUE)
	-- a label that says encrypted is checked against the body: it is read
	check(body(conn, "labelled", qid(2), labelled) == SMFIR_CONTINUE,
	      "not scanning, labelled encrypted: the body is read")
	assert(mt.eom(conn) == nil)
	mt.getreply(conn)
end
mt.disconnect(conn)

finish()
