#!/usr/bin/env python3
"""A syslog socket that stops reading: bind a Unix datagram socket at PATH
with the smallest receive buffer, read nothing until SIGUSR1, then append
every datagram to LOG. Usage: log_sink.py PATH LOG"""
import signal
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
sock.bind(path)
signal.sigwait([signal.SIGUSR1])
with open(log, "a", buffering=1) as out:
    while True:
        out.write(sock.recv(65536).decode(errors="replace") + "\n")
