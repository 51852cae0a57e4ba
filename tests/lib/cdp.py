#!/usr/bin/python3
"""cdp.py - drive a headless Chromium over the DevTools protocol, for the
script tests (standard library only).

    cdp.py BROWSER PROFILEDIR URL JS...

Starts BROWSER headless with --remote-debugging-pipe (the protocol's JSON
messages, each ended by a NUL, on the browser's fds 3 and 4), opens URL,
waits until the page has loaded, then evaluates each JS expression in
turn (a promise is awaited) and prints its value as one line of JSON.
An argument "type:ID:TEXT" instead focuses the element with id ID and
types TEXT into it as keyboard input (Input.insertText: the page sees
the input events a person's typing makes), then prints the element's
value.
Exits 1 with the reason on stderr when the browser, the page or an
expression fails, or after 60 seconds in all.
"""

import fcntl
import json
import os
import select
import subprocess
import sys
import time

DEADLINE = time.monotonic() + 60


class Browser:
    def __init__(self, binary, profile):
        to_browser = os.pipe()
        from_browser = os.pipe()
        # well above 4, so that the dup2 calls below cannot clobber them
        self.cmd_r = fcntl.fcntl(to_browser[0], fcntl.F_DUPFD, 10)
        self.ev_w = fcntl.fcntl(from_browser[1], fcntl.F_DUPFD, 10)
        os.close(to_browser[0])
        os.close(from_browser[1])
        self.cmd_w, self.ev_r = to_browser[1], from_browser[0]
        args = [binary, "--headless", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--remote-debugging-pipe",
                "--user-data-dir=" + profile, "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")

        def fds():
            os.dup2(self.cmd_r, 3)
            os.dup2(self.ev_w, 4)

        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(profile + ".log", "wb"))
        os.close(self.cmd_r)
        os.close(self.ev_w)
        self.buf = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                left = DEADLINE - time.monotonic()
                if left <= 0 or not select.select([self.ev_r], [], [], left)[0]:
                    raise RuntimeError("no answer to %s in time" % method)
                chunk = os.read(self.ev_r, 65536)
                if not chunk:
                    raise RuntimeError("the browser closed the pipe (%s)" % method)
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") != self.next_id:
                continue        # an event
            if "error" in answer:
                raise RuntimeError("%s: %s" % (method, answer["error"]))
            return answer["result"]

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def evaluate(b, session, expr):
    r = b.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                    "returnByValue": True}, session)
    if "exceptionDetails" in r:
        raise RuntimeError("%s: %s" % (expr[:60], json.dumps(r["exceptionDetails"])[:400]))
    return r["result"].get("value")


def type_into(b, session, directive):
    _, ident, text = directive.split(":", 2)
    elem = "document.getElementById(%s)" % json.dumps(ident)
    if not evaluate(b, session, "%s.focus(); document.activeElement === %s" % (elem, elem)):
        raise RuntimeError("type: cannot focus #%s" % ident)
    b.call("Input.insertText", {"text": text}, session)
    return evaluate(b, session, elem + ".value")


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: cdp.py BROWSER PROFILEDIR URL JS...\n")
        return 2
    binary, profile, url = sys.argv[1:4]
    b = Browser(binary, profile)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget",
                         {"targetId": target, "flatten": True})["sessionId"]
        b.call("Page.navigate", {"url": url}, session)
        while evaluate(b, session, "document.readyState + ' ' + location.href") != \
                "complete " + url:
            if time.monotonic() > DEADLINE:
                raise RuntimeError("the page did not load")
            time.sleep(0.05)
        for expr in sys.argv[4:]:
            if expr.startswith("type:"):
                print(json.dumps(type_into(b, session, expr)), flush=True)
            else:
                print(json.dumps(evaluate(b, session, expr)), flush=True)
    except (RuntimeError, OSError, ValueError) as e:
        sys.stderr.write("cdp.py: %s\n" % e)
        return 1
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
