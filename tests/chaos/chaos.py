#!/usr/bin/env python3
"""Chaos for the real weftd: steady pipelined load from many clients while,
at random, workers are killed with SIGKILL, SIGHUP reloads change the worker
count, and clients half-close or vanish mid-stream.

  chaos.py WEFTD HANDLER SECONDS

Checked: every request a client waited for gets exactly one answer, in
order, byte-exact (status 0 with its own payload), or one of weftd's
documented errors where a worker died (4 worker failed, 3 timeout); no
answer ever carries another connection's payload; at the end no zombie,
the pool whole, and weftd's fd count and RSS back near where they began.
Prints one summary line; exit 1 on any violation."""
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HEADER = struct.Struct("!IHH")
ALLOWED_ERRORS = {3, 4}
CLIENTS = 12


class Failure(Exception):
    pass


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                if int(st[1]) == pid:
                    out.append((int(d), st[0]))
            except OSError:
                pass
    return out


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class Client(threading.Thread):
    """One connection at a time: pipelines a batch, checks every answer,
    and sometimes half-closes or vanishes, then starts over."""

    def __init__(self, cid, addr, stop, stats):
        super().__init__(daemon=True)
        self.cid, self.addr, self.stop, self.stats = cid, addr, stop, stats
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.session()
        except Exception as e:  # a violation, or an unexpected error
            self.error = "client %d: %s: %s" % (self.cid, type(e).__name__, e)

    def session(self):
        host, port = self.addr
        s = socket.create_connection((host, port), timeout=30)
        seq = 0
        try:
            while not self.stop.is_set():
                depth = random.randint(1, 16)
                sent = []
                out = b""
                for _ in range(depth):
                    body = b"c%d:s%d:" % (self.cid, seq)
                    body += os.urandom(random.choice((0, 10, 200, 5000))).hex().encode()
                    out += HEADER.pack(len(body), 0, 0) + body
                    sent.append(body)
                    seq += 1
                s.sendall(out)
                fate = random.random()
                if fate < 0.03:
                    self.stats["vanished"] += 1
                    return  # gone mid-stream, answers unread
                if fate < 0.06:
                    s.shutdown(socket.SHUT_WR)
                    self.stats["halfclosed"] += 1
                for body in sent:
                    length, status, flags = HEADER.unpack(recv_exact(s, 8))
                    payload = recv_exact(s, length) if length else b""
                    self.check(body, status, flags, payload)
                if fate < 0.06:
                    if s.recv(1) != b"":
                        raise Failure("data after the last answer")
                    return
        except (ConnectionResetError, BrokenPipeError, EOFError) as e:
            raise Failure("connection lost: %s" % e)
        finally:
            s.close()

    def check(self, body, status, flags, payload):
        if flags:
            raise Failure("answer with flags %d" % flags)
        if status == 0:
            if payload != body:
                other = payload.split(b":", 1)[0]
                if other != b"c%d" % self.cid:
                    raise Failure("got another connection's answer (%r)" %
                                  payload[:20])
                raise Failure("answer out of order or wrong: %r for %r" %
                              (payload[:20], body[:20]))
            self.stats["ok"] += 1
        elif status in ALLOWED_ERRORS:
            self.stats["error %d" % status] += 1
        else:
            raise Failure("status %d: %r" % (status, payload[:60]))


def main():
    weftd, handler = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    seconds = float(sys.argv[3])
    tmp = tempfile.mkdtemp(prefix="weft-chaos-")
    conf = os.path.join(tmp, "weftd.conf")
    log = open(os.path.join(tmp, "weftd.log"), "w")

    def write_conf(workers):
        with open(conf, "w") as f:
            f.write('listen = { "127.0.0.1:0" }\nio_threads = 2\n'
                    'log_level = info\nmax_pipeline = 8\n'
                    'handler {\n command = { "%s" }\n workers = %d\n'
                    ' request_timeout = 10s\n}\n' %
                    (handler, workers))
    workers = 4
    write_conf(workers)
    p = subprocess.Popen([weftd, "-f", "-c", conf], stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(500):
            with open(log.name) as f:
                text = f.read()
            if "ready:" in text:
                for line in text.splitlines():
                    if "listening on 127.0.0.1:" in line:
                        port = int(line.rsplit(":", 1)[1])
                break
            time.sleep(0.02)
        if port is None:
            raise Failure("weftd did not start: " + text[-300:])
        while len(children(p.pid)) < workers:
            time.sleep(0.02)
        base_fds, base_rss = fds(p.pid), status_kb(p.pid, "VmRSS")
        base_workers = workers
        stop = threading.Event()
        stats = {"ok": 0, "error 3": 0, "error 4": 0, "vanished": 0,
                 "halfclosed": 0}
        clients = [Client(i, ("127.0.0.1", port), stop, stats)
                   for i in range(CLIENTS)]
        for c in clients:
            c.start()
        kills = reloads = 0
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            time.sleep(random.uniform(0.05, 0.4))
            if any(c.error for c in clients):
                break
            if random.random() < 0.7:
                kids = [k for k, state in children(p.pid) if state != "Z"]
                try:
                    if kids:
                        os.kill(random.choice(kids), signal.SIGKILL)
                        kills += 1
                except ProcessLookupError:
                    pass  # it was on its way out already
            else:
                workers = random.randint(1, 6)
                write_conf(workers)
                p.send_signal(signal.SIGHUP)
                reloads += 1
        stop.set()
        for c in clients:
            c.join(60)
        errors = [c.error for c in clients if c.error]
        if errors:
            raise Failure(errors[0])
        # Settled: the pool whole, no zombie, fds and memory back (each
        # worker is three fds: its socket, its output and its statm).
        want_fds = base_fds + 3 * (workers - base_workers)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            kids = children(p.pid)
            live = [k for k, st in kids if st != "Z"]
            if len(live) == workers and len(kids) == workers and \
                    fds(p.pid) == want_fds:
                break
            time.sleep(0.1)
        kids = children(p.pid)
        if any(st == "Z" for _, st in kids):
            raise Failure("a zombie: %r" % kids)
        if len(kids) != workers:
            raise Failure("%d workers, configured %d" % (len(kids), workers))
        if fds(p.pid) != want_fds:
            raise Failure("%d fds open, %d expected" % (fds(p.pid), want_fds))
        rss = status_kb(p.pid, "VmRSS")
        if rss > base_rss + 16 * 1024:
            raise Failure("RSS %d KiB, %d KiB at the start" % (rss, base_rss))
        p.send_signal(signal.SIGTERM)
        if p.wait(30) != 0:
            raise Failure("weftd exited %d" % p.returncode)
        print("chaos: %.0f s, %d clients: %d answers ok, %d worker failed, "
              "%d timeout; %d workers killed, %d reloads, %d half-closes, "
              "%d vanished; fds back to %d, RSS %d -> %d KiB" % (
                  seconds, CLIENTS, stats["ok"], stats["error 4"],
                  stats["error 3"], kills, reloads, stats["halfclosed"],
                  stats["vanished"], want_fds, base_rss, rss))
        return 0
    except Failure as e:
        print("chaos: FAILED: %s (log: %s)" % (e, log.name))
        return 1
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
