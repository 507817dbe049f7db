#!/bin/bash
# weftd against libweft's own frame_echo and against HAProxy, in four
# scenarios (connections x frame size x depth): 100 x 64 B x 1 and x 16,
# 1000 x 64 B x 1, 10 x 16 KiB x 1; weftd with the C echo handler (2
# workers): its defaults, pipeline 16 or 1 with one IO thread, and 2 IO
# threads (io1-p16, io1-p1, io2-pauto).
# HAProxy (2 threads, mode tcp) stands in front of 2 epoll echo workers on
# Unix sockets, the same shape as weftd and its pool (skipped when haproxy is
# not installed). Rounds are interleaved; each run starts a fresh server.
# Prints a Markdown table: median requests/s, p99, server CPU per request
# (every process of the server, workers included), ratio to frame_echo's
# requests/s and to HAProxy's CPU per request.
#
#   scripts/bench-weftd.sh          ROUNDS (3), DURATION (4 s) override
#   OLD_WEFTD=path/to/weftd ...     adds that binary with its own defaults
#                                   ("old"), for a before/after in one run
#   SERVERS="old weftd" SCENARIOS="10:1000000:1" ...
#                                   a subset, or other scenarios
#                                   (conns:bytes:depth; max_frame is 1 MiB)
#
# The server side runs on CPU 1 and the client on CPU 0 (PIN=0: unpinned,
# so weftd's threads and workers may spread over both CPUs). Pinned, every
# server is CPU-bound on its one CPU: compare CPU per request.
set -u
cd "$(dirname "$0")/.." || exit 1
rounds=${ROUNDS:-3} duration=${DURATION:-4}
make -s build/weftd build/examples/frame_echo build/examples/handlers/echo \
    build/bench/weft-bench || exit 1
tmp=$(mktemp -d)
spid="" helpers=""
# shellcheck disable=SC2086
trap 'kill -KILL $spid $helpers 2>/dev/null; rm -rf "$tmp"' EXIT
say() { echo "bench-weftd: $*" >&2; }

haproxy=$(command -v haproxy)
if [ -n "$haproxy" ]; then
	mkdir -p build/bench/peers
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra \
	    -o build/bench/peers/echo_epoll tests/bench/peers/echo_epoll.c ||
	    exit 1
else
	say "haproxy not installed (WEFT_DEPS_EXTRA=haproxy scripts/deps.sh): no HAProxy row"
fi

pin_srv=(taskset -c 1) pin_cli=(taskset -c 0)
taskset -c 1 true 2>/dev/null && [ "${PIN:-1}" = 1 ] || pin_srv=() pin_cli=()
tck=$(getconf CLK_TCK)

# CPU ticks of the server: its processes and their children (the workers
# are not reaped yet).
ticks() {
	local p sum=0 st f
	# shellcheck disable=SC2086
	for p in $spid $helpers $(pgrep -P "$spid"); do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		st=${st##*) }
		read -r -a f <<<"$st"
		sum=$((sum + f[11] + f[12]))
	done
	echo $sum
}

# start NAME: sets spid and port; readiness is the "listening on" line.
start() {
	local io pipe log="$tmp/$1.log" i
	: >"$log"
	case $1 in
	haproxy)
		port=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		rm -f "$tmp"/w*.sock # the last round's: not a sign of readiness
		for i in 1 2; do
			"${pin_srv[@]}" build/bench/peers/echo_epoll \
			    --unix "$tmp/w$i.sock" >>"$log" 2>&1 &
			helpers+=" $!"
		done
		cat >"$tmp/h.cfg" <<-EOF
		global
		  nbthread 2
		  maxconn 4000
		defaults
		  mode tcp
		  timeout connect 5s
		  timeout client 60s
		  timeout server 60s
		frontend f
		  bind 127.0.0.1:$port
		  default_backend b
		backend b
		  balance roundrobin
		  server w1 unix@$tmp/w1.sock
		  server w2 unix@$tmp/w2.sock
		EOF
		for ((i = 0; i < 200; i++)); do
			[ -S "$tmp/w1.sock" ] && [ -S "$tmp/w2.sock" ] && break
			sleep 0.05
		done
		"${pin_srv[@]}" "$haproxy" -db -f "$tmp/h.cfg" >>"$log" 2>&1 &
		spid=$!
		for ((i = 0; i < 200; i++)); do
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
			sleep 0.05
		done
		return 1
		;;
	frame_echo)
		"${pin_srv[@]}" build/examples/frame_echo --port 0 >"$log" 2>&1 &
		;;
	weftd* | old)
		io="" pipe="" bin=build/weftd
		[ "$1" = old ] && bin=$OLD_WEFTD
		if [[ $1 == weftd-io* ]]; then
			io=${1#weftd-io}; pipe=${io#*-p}; io=${io%-p*}
			io="io_threads = $io" pipe="pipeline = $pipe"
		fi
		cat >"$tmp/w.conf" <<-EOF
		listen = { "127.0.0.1:0" }
		$io
		max_connections = 2000
		handler {
		  command = { "$PWD/build/examples/handlers/echo" }
		  workers = 2
		  queue_limit = 100000
		  $pipe
		}
		EOF
		"${pin_srv[@]}" "$bin" -f -c "$tmp/w.conf" >"$log" 2>&1 &
		;;
	esac
	spid=$!
	for ((i = 0; i < 200; i++)); do
		port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$log")
		[ -n "$port" ] && grep -q "ready\|listening on" "$log" && break
		sleep 0.05
	done
	# weftd: wait for its workers, announced after the listener.
	[[ $1 == weftd* || $1 == old ]] && for ((i = 0; i < 200; i++)); do
		grep -q "ready:" "$log" && break
		sleep 0.05
	done
	[ -n "$port" ]
}

stop() {
	# shellcheck disable=SC2086
	kill -TERM $spid $helpers
	# shellcheck disable=SC2086
	wait $spid $helpers 2>/dev/null
	spid="" helpers=""
}

servers=${SERVERS:-"frame_echo ${haproxy:+haproxy }${OLD_WEFTD:+old }weftd weftd-io1-p16 weftd-io1-p1 weftd-io2-pauto"}
scenarios=${SCENARIOS:-"100:64:1 100:64:16 1000:64:1 10:16384:1"}
declare -A rps p99 cpu
for sc in $scenarios; do
	IFS=: read -r conns size depth <<<"$sc"
	for ((r = 1; r <= rounds; r++)); do
		for s in $servers; do
			start "$s" || { say "$s did not start"; stop; continue; }
			t0=$(ticks)
			out=$("${pin_cli[@]}" build/bench/weft-bench --port "$port" \
			    --conns "$conns" --size "$size" --depth "$depth" \
			    --duration "$duration" --framed | grep '^RESULT')
			t1=$(ticks)
			stop
			n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")
			e=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$out")
			[ "${e:-0}" = 0 ] || say "$s: $e error answers, not counted"
			say "$sc round $r $s: $out cpu_ticks=$((t1 - t0))"
			rps[$s,$sc]+="$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$out") "
			p99[$s,$sc]+="$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$out") "
			cpu[$s,$sc]+="$(awk -v t=$((t1 - t0)) -v n="$n" -v h="$tck" \
			    'BEGIN { printf "%.2f", n ? t / h * 1e6 / n : 0 }') "
		done
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
    END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
range() { tr ' ' '\n' | grep . | sort -g | sed -n '1p;$p' | paste -sd- -; }

echo "| server | conns x bytes x depth | requests/s | p99 (us) | CPU us/request (range) | x frame_echo (rps) | x haproxy (rps) | x haproxy (CPU) |"
echo "|---|---|---|---|---|---|---|---|"
for sc in $scenarios; do
	base=$(median <<<"${rps[frame_echo,$sc]}")
	hr=$(median <<<"${rps[haproxy,$sc]:-}") hc=$(median <<<"${cpu[haproxy,$sc]:-}")
	for s in $servers; do
		m=$(median <<<"${rps[$s,$sc]}") c=$(median <<<"${cpu[$s,$sc]}")
		printf '| %s | %s | %.0f | %s | %s (%s) | %s | %s | %s |\n' "$s" \
		    "${sc//:/ x }" "$m" "$(median <<<"${p99[$s,$sc]}")" "$c" \
		    "$(range <<<"${cpu[$s,$sc]}")" "$(ratio "$m" "$base")" \
		    "$(ratio "$m" "$hr")" "$(ratio "$c" "$hc")"
	done
done
