#!/usr/bin/python3
"""routecmp.py - does the JSON of "sikkermail-ctl serve" (GET /v1/route)
say, field by field, what "sikkermail-ctl explain --personal" printed for
the same addresses in the same order? For tests/serve.sh.

    routecmp.py EXPLAIN_OUTPUT JSON_ANSWER

Prints one line per comparison, "ok<TAB>what" or "not ok<TAB>what: json
... explain ...". Both must have been made with TZ=UTC (explain prints the
certificate's expiry in local time). Exits 1 when a file cannot be read.
"""

import json
import sys


def blocks(text):
    """explain's output: one dict of label -> value per address."""
    out = []
    for chunk in text.strip("\n").split("\n\n"):
        lines = chunk.split("\n")
        b = {"address": lines[0][len("address: "):]}
        for line in lines[1:]:
            label, _, value = line.strip().partition(": ")
            b[label] = value
        out.append(b)
    return out


def certificate_line(c):
    """The certificate line explain would print for the JSON's certificate."""
    if c["status"] == "not-needed":
        return None     # compared with the class below
    if c["status"] == "not-consulted":
        return "the certificate directory was not consulted"
    if c["status"] == "lookup-failed":
        return "lookup failed (temporary)"
    if c["status"] == "none":
        return "no valid certificate known for this address"
    expires = c["not_after"].replace("T", " ").rstrip("Z")
    kind = "domain " + c["domain"] if c["kind"] == "domain" else "personal"
    return "%s; subject %s; SHA-256 %s; expires %s; from %s" % (
        kind, c["subject"], c["fingerprint_sha256"], expires, c["source"])


def compare(b, r, say):
    addr = r["address"]
    say(b["address"] == addr, "%s: address as given" % addr, addr, b["address"])
    if not r["valid"]:
        key = "refused" if r["status"] == "refused" else "invalid"
        say(b.get(key) == r["why"], "%s: %s, and why" % (addr, key), r["why"], b.get(key))
        say(b.get("action", "").endswith("(5.1.3)") and r["rcpt_reply"] == "5.1.3",
            "%s: refused at RCPT TO with 5.1.3" % addr, r["rcpt_reply"], b.get("action"))
        return
    want_norm = r["normalised"] if r["normalised"] != addr else None
    say(b.get("normalised") == want_norm, "%s: normalised" % addr, want_norm,
        b.get("normalised"))
    say(b.get("class") == r["class"], "%s: class" % addr, r["class"], b.get("class"))
    say(b.get("evidence") == (r["evidence"] or "-"), "%s: evidence" % addr, r["evidence"],
        b.get("evidence"))
    cert = certificate_line(r["certificate"])
    if cert is None:
        cert = "not needed (class %s comes before encrypted)" % r["class"]
    got = b.get("certificate", "")
    say(got == cert or (r["certificate"]["status"] == "not-consulted" and
                        got.startswith(cert)),
        "%s: certificate (%s)" % (addr, r["certificate"]["status"]), cert, got)
    for key, label in (("personal_message", "personal message"),
                       ("other_message", "other message")):
        want = "%s (rule %s)" % (r[key]["action"], r[key]["rule"])
        say(b.get(label) == want, "%s: %s" % (addr, label), want, b.get(label))
    say(("mode" in b) == (r["mode"] == "monitor"), "%s: mode" % addr, r["mode"], b.get("mode"))
    say(b.get("error") == r["error"], "%s: error" % addr, r["error"], b.get("error"))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    with open(sys.argv[2], encoding="utf-8") as f:
        answer = json.load(f)
    bs, rs = blocks(text), answer["recipients"]

    def say(cond, what, want, got):
        if cond:
            print("ok\t%s" % what)
        else:
            print("not ok\t%s: json %r, explain %r" % (what, want, got))

    say(len(bs) == len(rs), "as many answers as explain blocks", len(rs), len(bs))
    for b, r in zip(bs, rs):
        compare(b, r, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
