#!/usr/bin/env python3
"""Hostile (and one normal) weft clients for the limits tests. ADDR is
HOST:PORT or unix:/path. Every mode prints one summary line and exits 0,
or 1 if something it checks went wrong.

  hostile.py ADDR trickle N EVERY SECONDS
      N connections each send a frame header a byte at a time, one byte
      every EVERY seconds, for up to SECONDS: "N closed by the server,
      after MIN..MAX s" (or how many were still open).
  hostile.py ADDR noread N COUNT SIZE SECONDS
      N connections each pipeline COUNT requests of SIZE bytes as fast as
      the socket takes them and never read: "N closed by the server, after
      MIN..MAX s, SENT MiB sent". Waits up to SECONDS for the closes.
  hostile.py ADDR slowread N SIZE RATE SECONDS
      N connections each pipeline requests of SIZE bytes and read their
      answers at RATE bytes/s: "N closed by the server ..." as above.
  hostile.py ADDR flood N FIRST COUNT SIZE SECONDS
      N connections each send the request FIRST, then COUNT requests of
      SIZE bytes, as fast as the socket takes them, and read every answer:
      "M answered in order (K x status S, ...)"; exit 1 if any is missing
      or out of order after SECONDS.
  hostile.py ADDR badflags N
      N connections each send a header with flags set: "N answered
      bad request".
  hostile.py ADDR partial N LENGTH SENT
      N connections each send a header claiming LENGTH bytes, and SENT of
      them; then hold them open until stdin closes.
  hostile.py ADDR hold N [SRC]
      open N connections (from address SRC) and report how many the
      server kept after a round trip each: "K of N served"; then keep them
      open until stdin closes.
  hostile.py ADDR latency N [PAUSE]
      one normal client: N requests, one at a time, PAUSE s apart (0.05):
      "N answered, p50 X ms, max Y ms"; exit 1 on a wrong answer.
Readiness: with READY_FILE set, the file is created once the attack's
connections are open and their first bytes sent."""
import os
import socket
import struct
import sys
import time

HEADER = struct.Struct("!IHH")


def connect(addr, src=None):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr[5:])
        return s
    host, _, port = addr.rpartition(":")
    s = socket.socket(socket.AF_INET6 if host.startswith("[") else
                      socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.connect((host.strip("[]"), int(port)))
    return s


def ready():
    path = os.environ.get("READY_FILE")
    if path:
        open(path, "w").close()


def closed_by_peer(s):
    """True if the server has closed s (EOF or reset); never blocks."""
    try:
        data = s.recv(65536, socket.MSG_DONTWAIT)
        return data == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def peer_closed(s):
    """The server sent FIN or RST, whatever is still unread (TCP_INFO)."""
    state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    return state in (7, 8)  # TCP_CLOSE (after a reset), TCP_CLOSE_WAIT


def report_closes(socks, t0, seconds, check, sent=None):
    """Wait until every socket is closed by the server (or time is up)."""
    closed = {}
    while len(closed) < len(socks) and time.monotonic() - t0 < seconds:
        for i, s in enumerate(socks):
            if i not in closed and check(i, s):
                closed[i] = time.monotonic() - t0
        time.sleep(0.02)
    extra = "" if sent is None else ", %.1f MiB sent" % (sent[0] / 2**20)
    if len(closed) < len(socks):
        print("%d of %d closed by the server in %.0f s%s" %
              (len(closed), len(socks), seconds, extra))
        return 1
    print("%d closed by the server, after %.2f..%.2f s%s" %
          (len(socks), min(closed.values()), max(closed.values()), extra))
    return 0


def trickle(addr, n, every, seconds):
    socks = [connect(addr) for _ in range(n)]
    header = HEADER.pack(16, 0, 0)
    t0 = time.monotonic()
    sent = [0] * n
    ready_done = False
    closed = {}
    last = 0.0
    while len(closed) < n and time.monotonic() - t0 < seconds:
        now = time.monotonic()
        if now - last >= every:
            last = now
            for i, s in enumerate(socks):
                if i in closed or sent[i] >= len(header):
                    continue
                try:
                    s.send(header[sent[i]:sent[i] + 1])
                    sent[i] += 1
                except OSError:
                    closed[i] = now - t0
            if not ready_done:
                ready()
                ready_done = True
        for i, s in enumerate(socks):
            if i not in closed and closed_by_peer(s):
                closed[i] = time.monotonic() - t0
        time.sleep(0.02)
    if len(closed) < n:
        print("%d of %d closed by the server in %.0f s" %
              (len(closed), n, seconds))
        return 1
    print("%d closed by the server, after %.2f..%.2f s" %
          (n, min(closed.values()), max(closed.values())))
    return 0


def push(socks, frames, sent):
    """Send what each socket takes now, without blocking. frames[i] is a
    [memoryview, offset] pair, so nothing is copied."""
    for i, s in enumerate(socks):
        view, off = frames[i]
        while off < len(view):
            try:
                k = s.send(view[off:off + 262144], socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError:
                off = len(view)
                break
            off += k
            sent[0] += k
        frames[i][1] = off


def noread(addr, n, count, size, seconds):
    socks = [connect(addr) for _ in range(n)]
    for s in socks:
        s.setblocking(False)
    one = HEADER.pack(size, 0, 0) + b"x" * size
    frames = [[memoryview(one * count), 0] for _ in socks]
    sent = [0]
    t0 = time.monotonic()
    push(socks, frames, sent)
    ready()

    def check(i, s):
        push(socks, frames, sent)
        return peer_closed(s)  # never read the answers
    return report_closes(socks, t0, seconds, check, sent)


def slowread(addr, n, size, rate, seconds):
    socks = [connect(addr) for _ in range(n)]
    for s in socks:
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    one = HEADER.pack(size, 0, 0) + b"y" * size
    frames = [[memoryview(one * 64), 0] for _ in socks]
    sent = [0]
    got = [0] * n
    t0 = time.monotonic()
    push(socks, frames, sent)
    ready()

    def check(i, s):
        push(socks, frames, sent)
        allowed = int(rate * (time.monotonic() - t0)) - got[i]
        try:
            if allowed > 0:
                data = s.recv(min(allowed, 65536))
                if data == b"":
                    return True
                got[i] += len(data)
            else:
                data = s.recv(1, socket.MSG_PEEK)
                return data == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        return False
    return report_closes(socks, t0, seconds, check, sent)


def read_frames(buf):
    """Split complete frames off buf: (list of (status, payload), rest)."""
    out = []
    while len(buf) >= 8:
        length, status, _ = HEADER.unpack_from(buf)
        if len(buf) < 8 + length:
            break
        out.append((status, bytes(buf[8:8 + length])))
        del buf[:8 + length]
    return out


def flood(addr, n, first, count, size, seconds):
    socks = [connect(addr) for _ in range(n)]
    first = first.encode()
    big = HEADER.pack(size, 0, 0) + b"z" * size
    frames = [[memoryview(HEADER.pack(len(first), 0, 0) + first +
                          big * count), 0] for _ in socks]
    for s in socks:
        s.setblocking(False)
    bufs = [bytearray() for _ in socks]
    answers = [[] for _ in socks]
    sent = [0]
    t0 = time.monotonic()
    push(socks, frames, sent)
    ready()
    while time.monotonic() - t0 < seconds:
        push(socks, frames, sent)
        for i, s in enumerate(socks):
            try:
                bufs[i] += s.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                pass
            answers[i] += read_frames(bufs[i])
        if all(len(a) == count + 1 for a in answers):
            break
        time.sleep(0.005)
    statuses = {}
    for i, a in enumerate(answers):
        if len(a) != count + 1 or (a[0][0] == 0 and a[0][1] != first):
            print("connection %d: %d of %d answers, first %r" %
                  (i, len(a), count + 1, a[0] if a else None))
            return 1
        for status, payload in a[1:]:
            if status == 0 and payload != b"z" * size:
                print("connection %d: a wrong payload" % i)
                return 1
            statuses[status] = statuses.get(status, 0) + 1
    print("%d answered in order (%s), %.1f MiB sent" % (
        n * (count + 1), ", ".join("%d x status %d" % (v, k) for k, v in
                                   sorted(statuses.items())),
        sent[0] / 2**20))
    return 0


def badflags(addr, n):
    ok = 0
    for _ in range(n):
        s = connect(addr)
        s.settimeout(20)
        s.sendall(HEADER.pack(0, 0, 7))
        h = s.recv(8, socket.MSG_WAITALL)
        if len(h) == 8 and HEADER.unpack(h)[1] == 1:
            ok += 1
        s.close()
    print("%d answered bad request" % ok)
    return 0 if ok == n else 1


def partial(addr, n, length, sent):
    """N connections each send a header claiming LENGTH bytes and SENT of
    them, then hold until stdin closes."""
    socks = []
    for _ in range(n):
        s = connect(addr)
        s.sendall(HEADER.pack(length, 0, 0) + b"p" * sent)
        socks.append(s)
    print("%d holding a frame of %d bytes, %d sent" % (n, length, sent),
          flush=True)
    ready()
    sys.stdin.read()
    return 0


def hold(addr, n, src=None):
    socks, served = [], 0
    for _ in range(n):
        try:
            s = connect(addr, src)
        except OSError:
            continue
        s.settimeout(5)
        try:
            s.sendall(HEADER.pack(2, 0, 0) + b"hi")
            h = s.recv(8, socket.MSG_WAITALL)
            if len(h) == 8 and s.recv(2, socket.MSG_WAITALL) == b"hi":
                served += 1
                socks.append(s)
                continue
        except OSError:
            pass
        s.close()
    print("%d of %d served" % (served, n), flush=True)
    ready()
    sys.stdin.read()
    return 0


def latency(addr, n, pause=0.05):
    s = connect(addr)
    s.settimeout(20)
    times = []
    refused = 0
    for i in range(n):
        body = b"normal %d" % i
        t = time.monotonic()
        s.sendall(HEADER.pack(len(body), 0, 0) + body)
        h = s.recv(8, socket.MSG_WAITALL)
        length, status, _ = HEADER.unpack(h)
        data = s.recv(length, socket.MSG_WAITALL) if length else b""
        times.append(time.monotonic() - t)
        # A full queue_limit refuses anyone at once, and a queued request
        # gets `timeout` at request_timeout: answered, not starved (the
        # caller judges how long it took).
        if (status == 2 and data.startswith(b"overloaded")) or \
                (status == 3 and data.startswith(b"timeout: no worker")):
            refused += 1
        elif status != 0 or data != body:
            print("answer %d wrong: status %d, %r" % (i, status, data[:40]))
            return 1
        time.sleep(pause)
    times.sort()
    print("%d answered (%d of them refused), p50 %.1f ms, max %.1f ms" %
          (n, refused, times[len(times) // 2] * 1000, times[-1] * 1000))
    return 0 if refused < n else 1


def main():
    addr, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "trickle":
        return trickle(addr, int(args[0]), float(args[1]), float(args[2]))
    if mode == "noread":
        return noread(addr, int(args[0]), int(args[1]), int(args[2]),
                      float(args[3]))
    if mode == "slowread":
        return slowread(addr, int(args[0]), int(args[1]), float(args[2]),
                        float(args[3]))
    if mode == "flood":
        return flood(addr, int(args[0]), args[1], int(args[2]),
                     int(args[3]), float(args[4]))
    if mode == "badflags":
        return badflags(addr, int(args[0]))
    if mode == "partial":
        return partial(addr, int(args[0]), int(args[1]), int(args[2]))
    if mode == "hold":
        return hold(addr, int(args[0]), args[1] if len(args) > 1 else None)
    if mode == "latency":
        return latency(addr, int(args[0]),
                       float(args[1]) if len(args) > 1 else 0.05)
    print("unknown mode " + mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
