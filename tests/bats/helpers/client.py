#!/usr/bin/env python3
"""A weft client for weftd's tests. ADDR is HOST:PORT or unix:/path.
  client.py ADDR send PAYLOAD...    one request each, pipelined on one
                                    connection; prints "STATUS PAYLOAD" per
                                    answer, then "closed" if the server
                                    closed the connection after them
  client.py ADDR pipeline N         N requests at once on one connection;
                                    checks the answers come back in order
  client.py ADDR concurrent N       N connections, one request each, all in
                                    flight together; checks every answer
  client.py ADDR halfclose PAYLOAD...
                                    like send, but shut down the sending
                                    side before reading any answer
  client.py ADDR route R:PAYLOAD...  like send, each with route id R
  client.py ADDR raw HEX [PAYLOAD]  send a raw 8-byte header (hex) and the
                                    payload, print answers until EOF
Exit status 1 on any wrong answer; every socket times out after 20 s.
With SENT_FILE set, send mode creates that file once its requests are
written: a test's readiness signal that they reached weftd's socket."""
import os
import socket
import struct
import sys
import threading

HEADER = struct.Struct("!IHH")
TIMEOUT = 20


def connect(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(addr[5:])
    else:
        host, _, port = addr.rpartition(":")
        s = socket.create_connection((host.strip("[]"), int(port)), TIMEOUT)
    return s


def frame(payload, status=0):
    return HEADER.pack(len(payload), status, 0) + payload


def read_frame(s):
    """(status, payload), or None at EOF or reset."""
    buf = b""
    need = HEADER.size
    header = None
    while True:
        while len(buf) < need:
            try:
                chunk = s.recv(need - len(buf))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        if header is None:
            header = HEADER.unpack(buf[:HEADER.size])
            buf = buf[HEADER.size:]
            need = header[0]
            if need == 0:
                return header[1], b""
            continue
        return header[1], buf[:need]


def show(s, n=None):
    got = 0
    while n is None or got < n:
        r = read_frame(s)
        if r is None:
            print("closed")
            return
        print(r[0], r[1].decode(errors="replace"))
        got += 1


def send_all_in_thread(s, data):
    t = threading.Thread(target=s.sendall, args=(data,))
    t.start()
    return t


def main():
    addr, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    s = connect(addr) if mode != "concurrent" else None
    if mode == "send":
        s.sendall(b"".join(frame(a.encode()) for a in args))
        if os.environ.get("SENT_FILE"):
            open(os.environ["SENT_FILE"], "w").close()
        show(s, len(args))
        s.shutdown(socket.SHUT_WR)
        if read_frame(s) is None:
            print("closed")
    elif mode == "route":
        reqs = [a.partition(":") for a in args]
        s.sendall(b"".join(frame(p.encode(), int(r)) for r, _, p in reqs))
        show(s, len(args))
    elif mode == "halfclose":
        s.sendall(b"".join(frame(a.encode()) for a in args))
        s.shutdown(socket.SHUT_WR)
        show(s)
    elif mode == "raw":
        s.sendall(bytes.fromhex(args[0]) + (args[1].encode() if len(args) > 1 else b""))
        show(s)
    elif mode == "pipeline":
        n = int(args[0])
        t = send_all_in_thread(s, b"".join(frame(b"req %d" % i) for i in range(n)))
        for i in range(n):
            r = read_frame(s)
            if r != (0, b"req %d" % i):
                sys.exit(f"answer {i} is {r!r}")
        t.join()
        print(f"{n} answers in order")
    elif mode == "concurrent":
        n = int(args[0])
        conns = [connect(addr) for _ in range(n)]
        for i, c in enumerate(conns):
            c.sendall(frame(b"conn %d" % i))
        for i, c in enumerate(conns):
            r = read_frame(c)
            if r != (0, b"conn %d" % i):
                sys.exit(f"connection {i} got {r!r}")
            c.close()
        print(f"{n} connections answered")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
