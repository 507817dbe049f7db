#!/bin/bash
# Echo benchmark: libweft's echo server against libevent, libuv and a bare
# epoll floor, on loopback. Prints one Markdown table to stdout, ready for a
# README; progress and the figures of every run go to stderr.
#
#   scripts/bench-echo.sh [--quick]
#
# ROUNDS (3) interleaved rounds per row, DURATION (5) seconds per run,
# IDLE_CONNS (10000) for the idle-memory row. --quick changes those defaults
# to 1 round of 2 s and 1,000 idle connections; the variables still win.
# WEFT_BENCH names another load client, to test this script without ours.
#
# The server runs alone on CPU 1 and the client on CPU 0; each run starts a
# fresh server, so a crash costs one run and no server inherits another
# run's heap. Needs libevent-dev, libuv1-dev, pkg-config and python3.
set -u
cd "$(dirname "$0")/.." || exit 1

quick=0
case "${1:-}" in
--quick) quick=1 ;;
"") ;;
*) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
if [ $quick -eq 1 ]; then
	rounds=${ROUNDS:-1} duration=${DURATION:-2} idle=${IDLE_CONNS:-1000}
else
	rounds=${ROUNDS:-3} duration=${DURATION:-5} idle=${IDLE_CONNS:-10000}
fi

say() { echo "bench-echo: $*" >&2; }

# --- bench-only dependencies --------------------------------------------

missing=""
for p in libevent-dev libuv1-dev pkg-config; do
	case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -n "$missing" ]; then
	cmd="apt-get install -y --no-install-recommends$missing"
	if [ "$(id -u)" -ne 0 ]; then
		say "missing packages:$missing; as root run: $cmd"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# A fresh machine's package lists may be empty or stale: refresh
	# only when the install says so, as that costs a round trip.
	if ! $cmd >&2; then
		apt-get update -qq >&2 && $cmd >&2 || exit 1
	fi
fi
for t in python3 taskset timeout; do
	command -v $t >/dev/null || { say "$t is required"; exit 1; }
done

# --- build ----------------------------------------------------------------

tmp=$(mktemp -d)
spid=""
cleanup() {
	[ -n "$spid" ] && stop_server "$spid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p build/bench/peers
for p in epoll libevent libuv; do
	case $p in
	libevent) pc=libevent_core ;;
	libuv) pc=libuv ;;
	*) pc="" ;;
	esac
	# shellcheck disable=SC2046
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra \
	    ${pc:+$(pkg-config --cflags $pc)} -o build/bench/peers/echo_$p \
	    tests/bench/peers/echo_$p.c ${pc:+$(pkg-config --libs $pc)} ||
	    { say "building echo_$p failed"; exit 1; }
done

# A target that failed to build may still sit there from an older tree;
# make -q tells a current binary from a stale one.
have_weft=1
client=${WEFT_BENCH:-build/bench/weft-bench}
if ! make -s -k build/bench/weft-bench build/bench/echo_weft \
    >"$tmp/make.log" 2>&1; then
	say "make build/bench/weft-bench build/bench/echo_weft failed:"
	tail -n 15 "$tmp/make.log" >&2
fi
if ! make -q build/bench/echo_weft 2>/dev/null; then
	say "build/bench/echo_weft is not built: skipping the weft server"
	have_weft=0
fi
if [ -z "${WEFT_BENCH:-}" ] && ! make -q build/bench/weft-bench 2>/dev/null
then
	say "build/bench/weft-bench is not built: skipping the load rows"
	client=""
elif [ -n "$client" ] && [ ! -x "$client" ]; then
	say "$client is not executable: skipping the load rows"
	client=""
fi

# --- servers ----------------------------------------------------------------

servers="weft libevent libuv epoll"
declare -A bin=(
	[weft]=build/bench/echo_weft
	[libevent]=build/bench/peers/echo_libevent
	[libuv]=build/bench/peers/echo_libuv
	[epoll]=build/bench/peers/echo_epoll
)
declare -A extra=([weft]="--threads 1")

# 10,000 idle connections need as many fds on both ends; the servers and
# the client inherit this.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard" 2>/dev/null || say "cannot raise the fd limit to $hard"

srv_pin=(taskset -c 1)
cli_pin=(taskset -c 0)
if ! taskset -c 1 true 2>/dev/null; then
	say "no CPU 1: running unpinned, figures will be noisier"
	srv_pin=() cli_pin=()
fi
tck=$(getconf CLK_TCK)

# State (field 3) of /proc/PID/stat, after the comm that may hold spaces.
# A zombie is dead: it is our child until stop_server reaps it.
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	case ${st%% *} in
	Z|X) return 1 ;;
	esac
}

# utime + stime (fields 14 and 15), all threads, in clock ticks; then the
# minor page faults (field 10), which tell heap churn from event-loop cost.
cpu_ticks() {
	local st f
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	read -r -a f <<<"$st"
	echo $((f[11] + f[12])) "${f[7]}"
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Start server $1 on a free port; sets spid and sport. Ready means the
# port accepts a connection. The port is free when picked but may be taken
# before the server binds it, so a server that exits at once gets another.
start_server() {
	local try i
	for try in 1 2 3; do
		sport=$(free_port) || return 1
		# shellcheck disable=SC2086
		"${srv_pin[@]}" "${bin[$1]}" --port "$sport" ${extra[$1]:-} \
		    </dev/null >>"$tmp/$1.log" 2>&1 &
		spid=$!
		for ((i = 0; i < 100; i++)); do
			alive "$spid" || break
			if (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null
			then
				return 0
			fi
			sleep 0.05
		done
		stop_server "$spid"
		say "$1 did not come up on port $sport (try $try)"
	done
	tail -n 5 "$tmp/$1.log" >&2
	return 1
}

# SIGTERM, five seconds' grace, then SIGKILL; wait only once it is dead.
stop_server() {
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		alive "$1" || break
		sleep 0.1
	done
	alive "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	[ "$1" = "$spid" ] && spid=""
	return 0
}

# --- load rows ----------------------------------------------------------------

# label|size|conns|depth
rows=(
	"64 B, 1 conn|64|1|1"
	"64 B, 100 conns|64|100|1"
	"64 B, 1,000 conns|64|1000|1"
	"4 KiB, 100 conns|4096|100|1"
	"16 KiB, 100 conns|16384|100|1"
	"64 B, 100 conns, depth 16|64|100|16"
)
: >"$tmp/runs.tsv"
: >"$tmp/idle.tsv"

# One run of the client against server $1; appends a line to runs.tsv:
# row, server, status (ok, died, failed, no start, n/a), rps, p99, and
# CPU-s per 1M requests.
run_one() {
	local srv=$1 row=$2 size=$3 conns=$4 depth=$5
	local t0 t1 f0 f1 rc line kv rps="" p99="" reqs="" cpm status

	if [ $have_weft -eq 0 ] && [ "$srv" = weft ]; then
		printf '%s\t%s\tn/a\t\t\t\n' "$row" "$srv" >>"$tmp/runs.tsv"
		return
	fi
	if ! start_server "$srv"; then
		printf '%s\t%s\tno start\t\t\t\n' "$row" "$srv" \
		    >>"$tmp/runs.tsv"
		return
	fi
	read -r t0 f0 <<<"$(cpu_ticks "$spid")"
	timeout --foreground -k 5 $((duration + 30)) "${cli_pin[@]}" \
	    "$client" --port "$sport" --conns "$conns" --size "$size" \
	    --depth "$depth" --duration "$duration" >"$tmp/client.out" 2>&1
	rc=$?
	read -r t1 f1 <<<"$(cpu_ticks "$spid")"
	if ! alive "$spid"; then
		status=died
		say "$srv died during the run:"
		tail -n 5 "$tmp/$srv.log" >&2
	else
		status=failed
		line=$(grep -v '^[[:space:]]*$' "$tmp/client.out" | tail -n 1)
		if [ $rc -eq 0 ] && [ "${line%% *}" = RESULT ]; then
			for kv in $line; do
				case $kv in
				rps=*) rps=${kv#rps=} ;;
				p99_us=*) p99=${kv#p99_us=} ;;
				requests=*) reqs=${kv#requests=} ;;
				esac
			done
			[[ $rps =~ ^[0-9.e+]+$ && $p99 =~ ^[0-9.e+]+$ &&
			    $reqs =~ ^[0-9]+$ && $reqs -gt 0 ]] && status=ok
		fi
		if [ $status != ok ]; then
			say "$srv: client exited $rc without a usable RESULT line:"
			tail -n 5 "$tmp/client.out" >&2
		fi
	fi
	stop_server "$spid"
	if [ $status = ok ]; then
		cpm=$(awk -v t=$((t1 - t0)) -v hz="$tck" -v n="$reqs" \
		    'BEGIN { printf "%.4f", t / hz / n * 1e6 }')
		say "$(awk -v s="$srv" -v r="$rps" -v p="$p99" -v c="$cpm" \
		    -v f=$((f1 - f0)) -v n="$reqs" 'BEGIN { printf \
		    "%-8s %10.0f rps  p99 %6.0f us  %7.3f CPU-s/1M  " \
		    "%5.2f faults/req", s, r, p, c, f / n }')"
		printf '%s\t%s\tok\t%s\t%s\t%s\n' "$row" "$srv" "$rps" "$p99" \
		    "$cpm" >>"$tmp/runs.tsv"
	else
		printf '%s\t%s\t%s\t\t\t\n' "$row" "$srv" "$status" \
		    >>"$tmp/runs.tsv"
	fi
}

if [ -n "$client" ]; then
	for r in "${rows[@]}"; do
		IFS='|' read -r label size conns depth <<<"$r"
		for ((round = 1; round <= rounds; round++)); do
			say "== $label: round $round/$rounds, ${duration}s"
			for srv in $servers; do
				run_one "$srv" "$label" "$size" "$conns" "$depth"
			done
		done
	done
fi

# --- idle memory ----------------------------------------------------------------

# Opens N connections and reports the growth of the server's VmRSS per
# connection. A warm-up echo before the baseline keeps one-time costs (the
# first read buffer, lazily built tables) out of the per-connection figure;
# the echo on the last connection and the server's fd count show that all
# N were accepted and registered before RSS is read.
idle_py='
import os, resource, socket, sys, time
pid, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def rss():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    sys.exit("no VmRSS for pid %d" % pid)

def nfds():
    return len(os.listdir("/proc/%d/fd" % pid))

def echo(s):
    s.sendall(b"x")
    if s.recv(1) != b"x":
        sys.exit("no echo from port %d" % port)

s = socket.create_connection(("127.0.0.1", port), timeout=10)
echo(s)
s.close()
time.sleep(0.1)
before, fds = rss(), nfds()
conns = [socket.create_connection(("127.0.0.1", port), timeout=10)
         for _ in range(n)]
echo(conns[-1])
deadline = time.monotonic() + 10
while nfds() < fds + n:
    if time.monotonic() > deadline:
        sys.exit("server holds %d of %d connections" % (nfds() - fds, n))
    time.sleep(0.01)
after = rss()
print("%.0f %d %d" % ((after - before) / n, before, after))
'

for srv in $servers; do
	if [ $have_weft -eq 0 ] && [ "$srv" = weft ]; then
		printf '%s\tn/a\t\n' "$srv" >>"$tmp/idle.tsv"
		continue
	fi
	if ! start_server "$srv"; then
		printf '%s\tno start\t\n' "$srv" >>"$tmp/idle.tsv"
		continue
	fi
	if out=$(timeout --foreground -k 5 120 "${cli_pin[@]}" \
	    python3 -c "$idle_py" "$spid" "$sport" "$idle" 2>"$tmp/idle.err")
	then
		read -r per before after <<<"$out"
		say "$(printf '%-8s idle: %d conns, VmRSS %d -> %d KiB, %s B/conn' \
		    "$srv" "$idle" $((before / 1024)) $((after / 1024)) "$per")"
		printf '%s\tok\t%s\n' "$srv" "$per" >>"$tmp/idle.tsv"
	elif ! alive "$spid"; then
		say "$srv died during the idle test"
		printf '%s\tdied\t\n' "$srv" >>"$tmp/idle.tsv"
	else
		say "$srv: idle test failed: $(tail -n 1 "$tmp/idle.err")"
		printf '%s\tfailed\t\n' "$srv" >>"$tmp/idle.tsv"
	fi
	stop_server "$spid"
done

# --- the table ----------------------------------------------------------------

# shellcheck disable=SC2016 # backquotes are Markdown
summary_py='
import statistics, sys
runs_f, idle_f, servers, rounds, duration, idle, loaded = sys.argv[1:8]
labels = sys.argv[8:]
servers = servers.split()
runs = {}
for line in open(runs_f):
    row, srv, status, rps, p99, cpm = line.rstrip("\n").split("\t")
    runs.setdefault((row, srv), []).append(
        (status, float(rps or 0), float(p99 or 0), float(cpm or 0)))

def cell(row, srv):
    rs = runs.get((row, srv), [])
    st = [r[0] for r in rs]
    if not rs or all(s == "n/a" for s in st):
        return None, "n/a"
    for bad in ("died", "no start", "failed"):
        if bad in st:
            return None, bad
    med = [statistics.median(r[i] for r in rs) for i in (1, 2, 3)]
    return med, None

def rate(x):
    return "%.1fM" % (x / 1e6) if x >= 1e6 else "%.1fk" % (x / 1e3)

print("Echo over loopback: median of %s interleaved round(s) of %s s; server "
      "on CPU 1, `weft-bench` on CPU 0. Each cell: requests/s, p99 latency, "
      "server CPU-seconds per million requests (ratio to weft)." %
      (rounds, duration))
if loaded != "1":
    print("Load rows skipped: no `weft-bench`.")
print()
print("| | " + " | ".join(servers) + " |")
print("|---" * (len(servers) + 1) + "|")
for row in labels if loaded == "1" else []:
    base, _ = cell(row, "weft")
    out = []
    for srv in servers:
        med, bad = cell(row, srv)
        if bad:
            out.append(bad)
            continue
        ratio = "%.2f" % (med[2] / base[2]) if base and base[2] > 0 else "n/a"
        out.append("%s rps, p99 %.0f us, %.2f CPU-s/1M (%s)" %
                   (rate(med[0]), med[1], med[2], ratio))
    print("| %s | %s |" % (row, " | ".join(out)))
idles = dict((l.split("\t")[0], l.rstrip("\n").split("\t")[1:])
             for l in open(idle_f))
out = []
for srv in servers:
    st, per = idles.get(srv, ("n/a", ""))
    out.append("%s B" % per if st == "ok" else st)
print("| idle: RSS per connection, %s conns | %s |" %
      ("{:,}".format(int(idle)), " | ".join(out)))
'

labels=()
for r in "${rows[@]}"; do
	labels+=("${r%%|*}")
done
python3 -c "$summary_py" "$tmp/runs.tsv" "$tmp/idle.tsv" "$servers" \
    "$rounds" "$duration" "$idle" "$([ -n "$client" ] && echo 1 || echo 0)" \
    "${labels[@]}"
