#!/usr/bin/env python3
"""A weft handler in Python, standard library only: echoes each request.

weftd runs it with the worker socket on fd 3 (WEFT_FD). Every frame is an
8-byte header in network byte order (u32 payload length, u16 status, u16
flags) and the payload; answer each request with exactly one response frame.
It says hello first (length 0, status 0, flags 0x5754): weftd then tags each
request in its flags, and the answer carries the same flags back, so that
an answer can never reach the wrong client (weft-protocol(7), "Tags").
"""
import os
import socket
import struct
import sys

HEADER = struct.Struct("!IHH")
HELLO_TAGS = 0x5754
# weftd says how large a request it may send.
MAX_FRAME = int(os.environ.get("WEFT_MAX_FRAME", 16 << 20))


def read_exact(sock, n):
    """n bytes, or b"" at a clean end of stream before the first byte."""
    parts, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            if got:
                raise ConnectionResetError("stream ended inside a frame")
            return b""
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def handle(payload):
    """Return (status, response payload). 0 is OK; 100+ are ours to define."""
    return 0, payload


def main():
    fd = int(os.environ.get("WEFT_FD", "3"))
    sock = socket.socket(fileno=fd)
    sock.sendall(HEADER.pack(0, 0, HELLO_TAGS))
    while True:
        header = read_exact(sock, HEADER.size)
        if not header:
            return 0
        length, _status, tag = HEADER.unpack(header)
        if length > MAX_FRAME:
            print("echo.py: malformed request header", file=sys.stderr)
            return 1
        payload = read_exact(sock, length) if length else b""
        status, reply = handle(payload)
        sock.sendall(HEADER.pack(len(reply), status, tag) + reply)


if __name__ == "__main__":
    sys.exit(main())
