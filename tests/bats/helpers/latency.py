#!/usr/bin/env python3
"""latency.py ADDR N [STATUS]: N requests one after another on one
connection; prints "p50=Xms p99=Yms max=Zms", and with STATUS also
"STATUS: K" (answers with that weftd status, counted, not wrong).
Exit status 1 on a wrong or missing answer. With READY_FILE set, that
file is made after the 10th answer: the load is on."""
import os
import sys
import time

from client import connect, frame, read_frame


def main():
    addr, n = sys.argv[1], int(sys.argv[2])
    ok_status = int(sys.argv[3]) if len(sys.argv) > 3 else None
    s = connect(addr)
    took = []
    other = 0
    for i in range(n):
        payload = b"lat %d" % i
        t0 = time.monotonic()
        s.sendall(frame(payload))
        r = read_frame(s)
        took.append(time.monotonic() - t0)
        if i == 9 and os.environ.get("READY_FILE"):
            open(os.environ["READY_FILE"], "w").close()
        if r is not None and r[0] == ok_status:
            other += 1
        elif r != (0, payload):
            sys.exit(f"request {i}: answer {r!r}")
    took.sort()
    pick = lambda q: took[min(n - 1, int(q * n))] * 1000
    print("p50=%.2fms p99=%.2fms max=%.2fms" % (pick(0.5), pick(0.99),
                                                took[-1] * 1000))
    if ok_status is not None:
        print("%d: %d" % (ok_status, other))


if __name__ == "__main__":
    main()
