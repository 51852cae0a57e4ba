#!/usr/bin/python3
"""slowproxy.py - a TCP relay on loopback that answers late, for the tests
(standard library only).

    slowproxy.py LISTEN_PORT TARGET_PORT DELAY_SECONDS

Listens on 127.0.0.1:LISTEN_PORT and relays each connection to
127.0.0.1:TARGET_PORT; everything the target sends back is held
DELAY_SECONDS first. A directory behind it answers every request, only
slowly: it never fails, so nothing backs off. Runs until SIGTERM.
"""

import signal
import socket
import sys
import threading
import time


def pump(src, dst, delay):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if delay:
                time.sleep(delay)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    listen_port, target_port, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)
    while True:
        client, _ = srv.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(client, upstream, 0), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, delay), daemon=True).start()


if __name__ == "__main__":
    main()
