#!/bin/bash
# retention.sh - recorded decisions are kept for Retention and no longer.
#
# sikkermail-ctl purge on a database with 100,000 old decisions made by
# sqlite3 with a recursive CTE (and a table of this test's own that refers
# to decisions): --dry-run only counts; the purge removes the old
# decisions, their recipients and the rows that refer to them, and nothing
# newer; a new database gives the pages back at once (auto_vacuum
# INCREMENTAL), and 100,000 decisions inserted again take no more room
# than the first 100,000 did. An older database (auto_vacuum NONE) reuses
# the freed pages, and purge --vacuum shrinks it once and turns
# incremental auto-vacuum on. A bad date is a one-line usage error. The
# running filter purges by itself: at start, and after a reload that
# shortens Retention, while it runs; it logs how many it purged and stops
# cleanly.

. "$(dirname "$0")/lib/common.sh"

need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$MILTER" "sikkermail-milter not built ($MILTER)"
need sqlite3 "sqlite3 (package sqlite3) is needed to fill the database"

T=$TEST_TMP/retention
DB=$T/db/sikkermail.db
CONF=$T/milter.conf
LOG=$T/milter.log
mkdir -p "$T/db"
give_to_test_user "$T"
milter_conf "$CONF" "Socket local:$T/milter.sock" "Database $DB" "Retention 30d"

now=$(date +%s)
day=86400

ctl() { capture "$CTL" -c "$CONF" "$@"; }

# fill FIRST N [T0] - N decisions with ids from FIRST, one a second from T0
# (default: two years ago), each with two recipients and evidence; every
# tenth also gets a row in decision_note.
fill() {
	local first=$1 n=$2 t0=${3:-$((now - 730 * day))}
	sql "$DB" "BEGIN;
WITH RECURSIVE c(i) AS (SELECT $first UNION ALL SELECT i + 1 FROM c WHERE i < $first + $n - 1)
INSERT INTO decision (id, time, queue_id, message_id, sender, client_addr, trusted, personal,
  personal_source, personal_why, cpr_hits, mode, action, applied, rule)
SELECT i, $t0 + i - $first, printf('Q%07d', i), printf('<%d@kp.dk>', i),
  printf('sender%d@kp.dk', i % 500), '10.0.0.1', 1, 1, 'header',
  'header X-KP-Personal: yes; CPR 010190-XXXX', 1, 'enforce', 'reject', 'reject',
  'PersonalToTLS' FROM c;
INSERT INTO decision_rcpt (decision_id, idx, rcpt, class, action, rule, evidence)
SELECT id, k, printf('rcpt%d.%d@example.org', id, k), 'tls', 'reject', 'PersonalToTLS',
  'no partner agreement for example.org; no certificate found'
  FROM decision, (SELECT 0 AS k UNION ALL SELECT 1) WHERE id >= $first AND id < $first + $n;
INSERT INTO decision_note (decision_id, note)
SELECT id, 'outcome of ' || queue_id FROM decision
  WHERE id >= $first AND id < $first + $n AND id % 10 = 0;
COMMIT;" >/dev/null
}

count() { sql "$DB" "SELECT count(*) FROM $1"; }
# leftovers IDS - recipient addresses of purged decisions, whose ids match
# the ERE IDS, still readable anywhere in the file, free pages too.
leftovers() { grep -a -o -E "rcpt$1\\.[01]@example\\.org" "$DB" | wc -l; }
pages() { sql "$DB" "PRAGMA page_count"; }

# ------------------------------------------------------------ a new database

must "a new database is made" \
	"$CTL" -c "$CONF" import tunnel "$top_srcdir/tests/data/lists/tunnel.txt" \
	>/dev/null 2>&1
is "$(sql "$DB" 'PRAGMA auto_vacuum')" 2 "a new database has auto_vacuum INCREMENTAL"
# a table of this test's own, as a later schema step might add: no ON DELETE CASCADE
sql "$DB" "CREATE TABLE decision_note (decision_id INTEGER NOT NULL REFERENCES decision (id),
  note TEXT)"

fill 1 100000
fill 200001 1000 $((now - 2 * day))
is "$(count decision)" 101000 "101,000 decisions to begin with"
sql "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
full=$(pages)
diag "100,000 old and 1,000 new decisions: $full pages"

# ------------------------------------------------------------ usage

for bad in 2026-13-01 2026-02-30 01.02.2026 yesterdy 7x "2026-1-1"; do
	ctl purge --before "$bad"
	is "$RC" 64 "purge --before $bad: exit 64"
	is "$(wc -l <"$ERR")" 1 "purge --before $bad: one line"
	like "$(cat "$ERR")" "bad date \"$bad\" for --before: expected YYYY-MM-DD" \
		"purge --before $bad: says what is wrong"
done
ctl purge --dry-run --before 800d
is "$RC" 0 "purge --before 800d: a relative date, as the report takes it"
like "$(cat "$OUT")" "would purge 0 decision" "... 800 days back: nothing that old"
ctl purge --before 2999-01-01
is "$RC" 64 "purge --before a future date: exit 64"
like "$(cat "$ERR")" "in the future" "purge --before a future date: says why"
ctl purge --frobnicate
is "$RC" 64 "purge with an unknown argument: exit 64"
ctl purge --dry-run --vacuum
is "$RC" 64 "purge --dry-run --vacuum: exit 64"
is "$(count decision)" 101000 "no usage error purged anything"

# ------------------------------------------------------------ purge

cut=$(date -d "@$((now - 365 * day))" +%Y-%m-%d)
ctl purge --dry-run --before "$cut"
is "$RC" 0 "purge --dry-run: exit 0"
what="100000 decision\(s\) recorded before $cut 00:00, with 200000 recipient row\(s\)"
what="$what and 10000 other row\(s\)"
like "$(cat "$OUT")" "would purge $what" \
	"purge --dry-run counts the decisions, their recipients and the rows that refer to them"
is "$(count decision)" 101000 "purge --dry-run deletes nothing"

# the certificate cache: an answer fetched (and fresh) last before the cut, and a recent one
sql "$DB" "INSERT INTO cert_cache (address, found, fetched_at, fresh_until)
  VALUES ('old@partner.example', 0, $((now - 400 * day)), $((now - 399 * day))),
         ('new@partner.example', 0, $((now - day)), $((now + day)))"
ctl purge --before "$cut"
is "$RC" 0 "purge --before $cut: exit 0"
is "$(sql "$DB" "SELECT group_concat(address) FROM cert_cache")" "new@partner.example" \
	"the certificate cache's answer from before the cut is purged, the recent one kept"
like "$(cat "$ERR")" "certificates=1 " "... and counted in the log line"
like "$(cat "$OUT")" "purged $what" \
	"purge says what it purged"
like "$(cat "$ERR")" "purge before=\"$cut 00:00\" decisions=100000 recipients=200000 other=10000" \
	"purge logs what it did"
is "$(count decision)" 1000 "the old decisions are gone"
is "$(sql "$DB" "SELECT count(*) FROM decision WHERE id > 200000")" 1000 \
	"every newer decision is still there"
is "$(count decision_rcpt)" 2000 "the old decisions' recipients are gone, the new ones' kept"
is "$(sql "$DB" "SELECT count(*) FROM decision_rcpt WHERE decision_id <= 100000")" 0 \
	"no recipient row of a purged decision is left"
is "$(count decision_note)" 100 "a table that refers to decisions loses the purged ones' rows"
is "$(sql "$DB" 'PRAGMA foreign_key_check')" "" "no row refers to a purged decision"
is "$(sql "$DB" 'PRAGMA freelist_count')" 0 "the freed pages went back to the file system"
is "$(leftovers '[0-9]{1,5}')" 0 "no purged address is left readable in the file"
after=$(pages)
ok "the database shrank to a tenth or less ($full pages, now $after)" \
	test "$after" -le $((full / 10))

# The same amount again takes the same room: the bound is the first fill's
# page count plus 5 % (the same rows in the same order; b-tree splits
# differ a little when pages come back in another order).
fill 300001 100000
sql "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
refill=$(pages)
ok "100,000 decisions inserted again take no more room ($full pages at first, $refill now)" \
	test "$refill" -le $((full + full / 20))

# ------------------------------------------------------------ an older database

# as a database made before incremental auto-vacuum
sql "$DB" "PRAGMA auto_vacuum = NONE; VACUUM" >/dev/null
is "$(sql "$DB" 'PRAGMA auto_vacuum')" 0 "an older database has auto_vacuum NONE"
before=$(pages)
# (ids 300001..399999: two recipients each)
is "$(leftovers '3[0-9]{5}')" 199998 "the addresses to be purged are readable in the file before"
ctl purge --before "$cut"
is "$RC" 0 "purge of an older database: exit 0"
is "$(count decision)" 1000 "purge of an older database: the old decisions are gone"
is "$(leftovers '3[0-9]{5}')" 0 \
	"purge of an older database: no purged address is left readable in the file"
free=$(sql "$DB" 'PRAGMA freelist_count')
ok "the older database keeps the freed pages for reuse ($free free of $(pages))" \
	test "$free" -gt $((before / 2))
fill 400001 100000
sql "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
reused=$(pages)
# The bound is again what 100,000 inserted decisions took in the first
# place, plus 5 %: VACUUM packed the remaining pages fuller than inserts
# leave them, so "before" is smaller than the same rows inserted anew.
ok "new decisions reuse them: the file does not grow ($before pages before, $reused after)" \
	test "$reused" -le $((full + full / 20))

ctl purge --before "$cut" --vacuum
is "$RC" 0 "purge --vacuum: exit 0"
shrank="vacuum: [0-9]+ page\(s\) of [0-9]+ bytes before, [0-9]+ after"
like "$(cat "$OUT")" "$shrank; incremental auto-vacuum on" "purge --vacuum says how much it shrank"
is "$(sql "$DB" 'PRAGMA auto_vacuum')" 2 "purge --vacuum turns incremental auto-vacuum on"
small=$(pages)
ok "purge --vacuum shrank the file ($reused pages, now $small)" test "$small" -le $((reused / 10))
size=$(stat -c %s "$DB")
psize=$(sql "$DB" 'PRAGMA page_size')
is "$size" $((small * psize)) "the file itself is that small (the WAL is checkpointed)"
is "$(count decision)" 1000 "purge --vacuum keeps the decisions"
ctl purge --vacuum
is "$RC" 0 "purge --vacuum alone: exit 0"
is "$(count decision)" 1000 "purge --vacuum alone purges nothing (no --before)"

# ------------------------------------------------------------ the running filter

# Retention 30d: the decisions of 40 days ago go at start-up.
fill 500001 500 $((now - 40 * day))
fill 600001 500 $((now - 20 * day))
is "$(sql "$DB" "SELECT count(*) FROM decision WHERE time < $now - 30 * $day")" 500 \
	"500 decisions older than 30 days before the filter starts"
gone_before() {
	[ "$(sql "$DB" "SELECT count(*) FROM decision WHERE time < $now - $1 * $day")" = 0 ]
}
if ok "the filter starts" milter_start "$CONF" "$T/milter.sock" "$LOG"; then
	ok "at start it purges what is older than Retention" wait_for 30 gone_before 30
	ok "and logs how many" wait_for 5 grep -q "retention: purged 500 decision(s)" "$LOG"
	is "$(sql "$DB" "SELECT count(*) FROM decision WHERE time >= $now - 30 * $day")" 1500 \
		"what is younger than Retention stays"

	# While it runs: decisions of 20 days ago go when a reload sets 10 days.
	fill 700001 300 $((now - 15 * day))
	milter_conf "$CONF" "Socket local:$T/milter.sock" "Database $DB" "Retention 10d"
	kill -HUP "$MILTER_PID"
	ok "after a reload to Retention 10d it purges what is older" wait_for 30 gone_before 10
	ok "and logs how many" wait_for 5 grep -q "retention: purged 800 decision(s)" "$LOG"
	is "$(count decision)" 1000 "the decisions of the last 10 days stay"
	is "$(sql "$DB" "SELECT count(*) FROM decision_rcpt WHERE decision_id > 500000")" 0 \
		"with their recipients gone too"
	milter_stop
	is "$STOP_STATUS" 0 "the filter stops cleanly"
	unlike "$(cat "$LOG")" '(fatal|panic|Sanitizer|runtime error)' "no fatal error logged"
	tests_failed && diag_file "$LOG"
else
	fail "(the daemon's purge needs a running daemon)"
fi

done_testing
