#!/bin/bash
# weftd against libweft's own frame_echo: 100 connections, 64-byte frames,
# depth 1 and 16, weftd with the C echo handler (2 workers) and 1 or 2 IO
# threads, pipeline 1 (the default) and 16. Rounds are interleaved; each run
# starts a fresh server. Prints a Markdown table: median requests/s, p99,
# server CPU per request (weftd and its workers together), ratio to
# frame_echo.
#
#   scripts/bench-weftd.sh          ROUNDS (3), DURATION (4 s) override
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
spid=""
trap '[ -n "$spid" ] && kill -KILL $spid 2>/dev/null; rm -rf "$tmp"' EXIT
say() { echo "bench-weftd: $*" >&2; }

pin_srv=(taskset -c 1) pin_cli=(taskset -c 0)
taskset -c 1 true 2>/dev/null && [ "${PIN:-1}" = 1 ] || pin_srv=() pin_cli=()
tck=$(getconf CLK_TCK)

# CPU ticks of a process and its children (the workers are not reaped yet).
ticks() {
	local p sum=0 st f
	for p in "$1" $(pgrep -P "$1"); do
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
	frame_echo)
		"${pin_srv[@]}" build/examples/frame_echo --port 0 >"$log" 2>&1 &
		;;
	weftd-io*)
		io=${1#weftd-io}; pipe=${io#*-p}; io=${io%-p*}
		cat >"$tmp/w.conf" <<-EOF
		listen = { "127.0.0.1:0" }
		io_threads = $io
		max_connections = 1000
		handler {
		  command = { "$PWD/build/examples/handlers/echo" }
		  workers = 2
		  pipeline = $pipe
		}
		EOF
		"${pin_srv[@]}" build/weftd -f -c "$tmp/w.conf" >"$log" 2>&1 &
		;;
	esac
	spid=$!
	for ((i = 0; i < 200; i++)); do
		port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$log")
		[ -n "$port" ] && grep -q "ready\|listening on" "$log" && break
		sleep 0.05
	done
	# weftd: wait for its workers, announced after the listener.
	[[ $1 == weftd* ]] && for ((i = 0; i < 200; i++)); do
		grep -q "ready:" "$log" && break
		sleep 0.05
	done
	[ -n "$port" ]
}

stop() {
	kill -TERM "$spid"
	wait "$spid" 2>/dev/null
	spid=""
}

servers="frame_echo weftd-io1-p1 weftd-io2-p1 weftd-io1-p16 weftd-io2-p16"
declare -A rps p99 cpu
for depth in 1 16; do
	for ((r = 1; r <= rounds; r++)); do
		for s in $servers; do
			start "$s" || { say "$s did not start"; stop; continue; }
			t0=$(ticks "$spid")
			out=$("${pin_cli[@]}" build/bench/weft-bench --port "$port" \
			    --conns 100 --size 64 --depth "$depth" \
			    --duration "$duration" --framed | grep '^RESULT')
			t1=$(ticks "$spid")
			stop
			n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")
			say "depth $depth round $r $s: $out cpu_ticks=$((t1 - t0))"
			rps[$s,$depth]+="$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$out") "
			p99[$s,$depth]+="$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$out") "
			cpu[$s,$depth]+="$(awk -v t=$((t1 - t0)) -v n="$n" -v h="$tck" \
			    'BEGIN { printf "%.2f", n ? t / h * 1e6 / n : 0 }') "
		done
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
    END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

echo "| server | depth | requests/s | p99 (us) | CPU us/request | x frame_echo (rps) |"
echo "|---|---|---|---|---|---|"
for depth in 1 16; do
	base=$(median <<<"${rps[frame_echo,$depth]}")
	for s in $servers; do
		m=$(median <<<"${rps[$s,$depth]}")
		printf '| %s | %s | %.0f | %s | %s | %.2f |\n' "$s" "$depth" "$m" \
		    "$(median <<<"${p99[$s,$depth]}")" \
		    "$(median <<<"${cpu[$s,$depth]}")" \
		    "$(awk -v a="$m" -v b="$base" 'BEGIN { print b ? a / b : 0 }')"
	done
done
