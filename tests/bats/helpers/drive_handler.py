#!/usr/bin/env python3
"""Drive a weft handler the way weftd will: its socket on fd 3, frames in,
frames out. Sends COUNT pipelined requests of growing size, checks that each
answer echoes its request in order with status 0, then closes the socket and
expects the handler to exit 0. Usage: drive_handler.py COUNT HANDLER [ARG...]
"""
import os
import socket
import struct
import subprocess
import sys
import threading

HEADER = struct.Struct("!IHH")


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            sys.exit("drive_handler: handler closed early")
        buf += chunk
    return buf


def main():
    count, argv = int(sys.argv[1]), sys.argv[2:]
    ours, theirs = socket.socketpair()
    ours.settimeout(10)
    # The handler's socket must be fd 3 and nothing else may leak: put it
    # there in this process (replacing whatever fd 3 was) and pass only it.
    os.dup2(theirs.fileno(), 3, inheritable=True)
    theirs.close()
    proc = subprocess.Popen(
        argv, pass_fds=(3,), stdin=subprocess.DEVNULL,
        env={"WEFT_FD": "3", "PATH": os.environ.get("PATH", "")})
    os.close(3)
    payloads = [bytes([65 + i % 26]) * (i * 37 % 5000) for i in range(count)]
    # Send from a thread while reading here: with everything pipelined, a
    # writer that waited for the reader would deadlock on full buffers.
    sender = threading.Thread(target=ours.sendall, args=(
        b"".join(HEADER.pack(len(p), 0, 0) + p for p in payloads),))
    sender.start()
    # A handler may say hello first (tags; weft-protocol(7)).
    first = read_exact(ours, HEADER.size)
    if HEADER.unpack(first) == (0, 0, 0x5754):
        first = read_exact(ours, HEADER.size)
    for i, p in enumerate(payloads):
        length, status, flags = HEADER.unpack(
            first if i == 0 else read_exact(ours, HEADER.size))
        body = read_exact(ours, length) if length else b""
        if (status, flags, body) != (0, 0, p):
            sys.exit(f"drive_handler: answer {i} is wrong")
    sender.join()
    ours.close()
    rc = proc.wait(timeout=10)
    print(f"{count} answers in order, exit {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
