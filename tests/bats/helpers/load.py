#!/usr/bin/env python3
"""Steady load for weftd's tests: load.py ADDR STOP-FILE [CONNS]
sends request after request on CONNS connections (default 4), each waiting
for its answer, until STOP-FILE exists; then prints "N answers, M wrong"
and exits 1 if any answer was not the echo of its request."""
import os
import socket
import struct
import sys
import threading

HEADER = struct.Struct("!IHH")


def worker(addr, stop, counts, lock):
    try:
        run(addr, stop, counts, lock)
    except OSError as e:
        print("error:", e, file=sys.stderr)
        with lock:
            counts[1] += 1


def run(addr, stop, counts, lock):
    host, _, port = addr.rpartition(":")
    s = socket.create_connection((host, int(port)), 20)
    i = 0
    while not os.path.exists(stop):
        payload = b"load %d" % i
        s.sendall(HEADER.pack(len(payload), 0, 0) + payload)
        buf = b""
        while len(buf) < HEADER.size:
            chunk = s.recv(HEADER.size - len(buf))
            if not chunk:
                break
            buf += chunk
        ok = False
        if len(buf) == HEADER.size:
            n, status, _ = HEADER.unpack(buf)
            body = b""
            while len(body) < n:
                chunk = s.recv(n - len(body))
                if not chunk:
                    break
                body += chunk
            ok = status == 0 and body == payload
        with lock:
            counts[0 if ok else 1] += 1
        if not ok:
            return
        i += 1


def main():
    addr, stop = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    counts, lock = [0, 0], threading.Lock()
    threads = [threading.Thread(target=worker, args=(addr, stop, counts, lock))
               for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("%d answers, %d wrong" % (counts[0], counts[1]))
    sys.exit(1 if counts[1] else 0)


if __name__ == "__main__":
    main()
