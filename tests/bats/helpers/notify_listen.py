#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: bind a Unix datagram socket at
PATH and append every message to LOG, one line per assignment and an empty
line after each message, flushed at once. Usage: notify_listen.py PATH LOG"""
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(log, "a", buffering=1) as out:
    while True:
        msg = sock.recv(4096).decode(errors="replace")
        out.write(msg.rstrip("\n") + "\n\n")
