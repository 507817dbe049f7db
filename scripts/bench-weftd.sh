#!/bin/bash
# weftd against libweft's own frame_echo, in four scenarios (connections x
# frame size x depth): 100 x 64 B x 1 and x 16, 1000 x 64 B x 1, 10 x 16 KiB
# x 1; weftd with the C echo handler (2 workers): its defaults, and 1 or 2 IO
# threads with pipeline 1 or 16. Rounds are interleaved; each run starts a
# fresh server. Prints a Markdown table: median requests/s, p99, server CPU
# per request (weftd and its workers together), ratio to frame_echo.
#
#   scripts/bench-weftd.sh          ROUNDS (3), DURATION (4 s) override
#   OLD_WEFTD=path/to/weftd ...     adds that binary with its own defaults
#                                   ("old"), for a before/after in one run
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
	kill -TERM "$spid"
	wait "$spid" 2>/dev/null
	spid=""
}

servers="frame_echo ${OLD_WEFTD:+old }weftd weftd-io1-p1 weftd-io2-p1 weftd-io2-p16"
scenarios="100:64:1 100:64:16 1000:64:1 10:16384:1"
declare -A rps p99 cpu
for sc in $scenarios; do
	IFS=: read -r conns size depth <<<"$sc"
	for ((r = 1; r <= rounds; r++)); do
		for s in $servers; do
			start "$s" || { say "$s did not start"; stop; continue; }
			t0=$(ticks "$spid")
			out=$("${pin_cli[@]}" build/bench/weft-bench --port "$port" \
			    --conns "$conns" --size "$size" --depth "$depth" \
			    --duration "$duration" --framed | grep '^RESULT')
			t1=$(ticks "$spid")
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

echo "| server | conns x bytes x depth | requests/s | p99 (us) | CPU us/request | x frame_echo (rps) |"
echo "|---|---|---|---|---|---|"
for sc in $scenarios; do
	base=$(median <<<"${rps[frame_echo,$sc]}")
	for s in $servers; do
		m=$(median <<<"${rps[$s,$sc]}")
		printf '| %s | %s | %.0f | %s | %s | %.2f |\n' "$s" "${sc//:/ x }" "$m" \
		    "$(median <<<"${p99[$s,$sc]}")" \
		    "$(median <<<"${cpu[$s,$sc]}")" \
		    "$(awk -v a="$m" -v b="$base" 'BEGIN { print b ? a / b : 0 }')"
	done
done
