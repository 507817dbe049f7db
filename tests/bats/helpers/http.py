#!/usr/bin/env python3
"""An HTTP client for weftd's metrics listener tests.
  http.py ADDR METHOD PATH     one request; prints the status code, then the
                               body (exit 1 if the server sent no answer)
  http.py ADDR raw TEXT        send TEXT (Python escapes decoded) as is and
                               print the status code of the answer
  http.py ADDR hold N FILE     open N connections, send nothing, create FILE
                               once they are open; then print, for each, how
                               many seconds passed until weftd closed it
ADDR is HOST:PORT. Every socket times out after 20 s."""
import socket
import sys
import time


def connect(addr):
    host, _, port = addr.rpartition(":")
    return socket.create_connection((host, int(port)), 20)


def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_and_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    line = head.split(b"\r\n")[0].decode()
    if not line.startswith("HTTP/1.1 "):
        sys.exit("not an HTTP answer: %r" % data[:80])
    return line.split()[1], body


def main():
    addr, mode = sys.argv[1], sys.argv[2]
    if mode == "hold":
        n, ready = int(sys.argv[3]), sys.argv[4]
        conns = [connect(addr) for _ in range(n)]
        t0 = time.monotonic()
        open(ready, "w").close()
        for c in conns:
            read_all(c)
            print("%.1f" % (time.monotonic() - t0))
        return
    s = connect(addr)
    if mode == "raw":
        s.sendall(sys.argv[3].encode().decode("unicode_escape").encode("latin-1"))
    else:
        path = sys.argv[3]
        s.sendall(("%s %s HTTP/1.1\r\nHost: test\r\n\r\n" % (mode, path)).encode())
    data = read_all(s)
    if not data:
        sys.exit("no answer")
    code, body = status_and_body(data)
    print(code)
    if mode != "raw":
        sys.stdout.write(body.decode())


if __name__ == "__main__":
    main()
