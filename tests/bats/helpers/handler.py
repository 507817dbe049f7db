#!/usr/bin/env python3
"""A handler for weftd's tests. The request payload picks the behaviour:
  sleep:S     sleep S seconds (after printing "sleeping"), then echo
  status:N    answer with status N
  pid         answer with our pid
  waiting     answer with how many bytes of requests wait in our socket
  env         answer with our environment, NAME=value per line
  fds         answer with our open fds, space-separated
  print:TEXT  print TEXT to stdout (with escapes decoded), then echo
  garbage     answer with a header whose flags are not 0
  extra       answer twice
  late:S      answer, then the same answer again S seconds later
  big         answer with a header claiming 1 GiB
  large:N     answer with N bytes ("x" repeated)
  hold:N      keep N more bytes of memory (touched) for good, then echo
  control:P   send "status" to the Unix socket P; answer what came back
              (its first line), or "closed" if nothing did
  half:N      answer with a header claiming N bytes and half of them, exit
  halfhang:N  the same, then hang instead of exiting
  exit:N      exit with status N at once
  last        answer, then exit 0 without reading on
  spew:N      print N lines to stderr as fast as it can, then echo
  who:X       answer "$POOL route=R uid=U gid=G X" (R: the header's route)
  signal:P,S  try kill(P, S); answer "sent" or the errno's name
  peek:P      try to read /proc/P/mem; answer "read" or the errno's name
  limits      answer "nofile=N as=M", our hard limits
  noterm      ignore SIGTERM from now on, and hang
anything else is echoed. With --die-at-start it exits 3 at once. With
--tags it says hello and answers with each request's tag (flags)."""
import array
import errno
import fcntl
import os
import resource
import signal
import socket
import struct
import sys
import termios
import time

HEADER = struct.Struct("!IHH")
HELD = []


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if buf:
                raise ConnectionResetError("stream ended inside a frame")
            return None
        buf += chunk
    return buf


TAG = [0]  # the tag of the request being answered (--tags)


def answer(sock, payload, status=0, flags=None, length=None):
    n = len(payload) if length is None else length
    sock.sendall(HEADER.pack(n, status, TAG[0] if flags is None else flags) +
                 payload)


def main():
    if "--die-at-start" in sys.argv:
        return 3
    sock = socket.socket(fileno=int(os.environ.get("WEFT_FD", "3")))
    if "--tags" in sys.argv:
        sock.sendall(HEADER.pack(0, 0, 0x5754))
    while True:
        header = read_exact(sock, HEADER.size)
        if header is None:
            return 0
        length, route, TAG[0] = HEADER.unpack(header)
        body = read_exact(sock, length) if length else b""
        verb, _, arg = body.decode(errors="replace").partition(":")
        if verb == "sleep":
            print("sleeping", flush=True)
            time.sleep(float(arg))
            answer(sock, body)
        elif verb == "status":
            answer(sock, body, status=int(arg))
        elif verb == "pid":
            answer(sock, str(os.getpid()).encode())
        elif verb == "who":
            # Which pool (its env names it), the route it came by, its ids.
            answer(sock, ("%s route=%d uid=%d gid=%d %s" % (
                os.environ.get("POOL", "?"), route, os.getuid(),
                os.getgid(), arg)).encode())
        elif verb == "signal":
            # Try to signal a process (weftd, another pool's worker).
            pid, _, sig = arg.partition(",")
            try:
                os.kill(int(pid), int(sig or 0))
                answer(sock, b"sent")
            except OSError as e:
                answer(sock, errno.errorcode[e.errno].encode())
        elif verb == "peek":
            # Try to read another process's memory, as a debugger would.
            try:
                with open("/proc/%s/mem" % arg, "rb") as f:
                    f.read(1)
                answer(sock, b"read")
            except OSError as e:
                answer(sock, errno.errorcode[e.errno].encode())
        elif verb == "limits":
            answer(sock, ("nofile=%d as=%d" % (
                resource.getrlimit(resource.RLIMIT_NOFILE)[1],
                resource.getrlimit(resource.RLIMIT_AS)[1])).encode())
        elif verb == "waiting":
            n = array.array("i", [0])
            fcntl.ioctl(sock.fileno(), termios.FIONREAD, n)
            answer(sock, str(n[0]).encode())
        elif verb == "env":
            answer(sock, "\n".join(f"{k}={v}" for k, v in
                                   sorted(os.environ.items())).encode())
        elif verb == "fds":
            answer(sock, " ".join(sorted(os.listdir("/proc/self/fd"),
                                         key=int)).encode())
        elif verb == "print":
            print(arg.encode().decode("unicode_escape"), flush=True)
            answer(sock, body)
        elif verb == "garbage":
            answer(sock, body, flags=7)
        elif verb == "extra":
            answer(sock, body)
            answer(sock, body)
        elif verb == "late":
            answer(sock, body)
            time.sleep(float(arg))
            answer(sock, body)
        elif verb == "big":
            answer(sock, b"", length=1 << 30)
        elif verb == "large":
            answer(sock, b"x" * int(arg))
        elif verb == "control":
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(10)
            got = b""
            try:
                c.connect(arg)
                c.sendall(b"status\n")
                got = c.recv(4096)
            except OSError:
                pass
            c.close()
            answer(sock, got.split(b"\n")[0] if got else b"closed")
        elif verb == "hold":
            HELD.append(bytearray(b"m" * int(arg)))
            answer(sock, body)
        elif verb in ("half", "halfhang"):
            n = int(arg)
            answer(sock, b"h" * (n // 2), length=n)
            if verb == "half":
                return 0
            time.sleep(60)
        elif verb == "noterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ignoring SIGTERM", flush=True)
            while True:
                time.sleep(60)
        elif verb == "exit":
            return int(arg)
        elif verb == "last":
            answer(sock, body)
            return 0
        elif verb == "spew":
            for i in range(int(arg)):
                sys.stderr.write("spew line %d\n" % i)
            sys.stderr.flush()
            answer(sock, body)
        else:
            answer(sock, body)


if __name__ == "__main__":
    sys.exit(main())
