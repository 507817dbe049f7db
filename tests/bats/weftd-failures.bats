#!/usr/bin/env bats
# What goes wrong costs one connection or one request an error frame, never
# the daemon: bad client frames, dying, slow and misbehaving handlers, a
# full queue, a handler that cannot start.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() { weftd_teardown; }

worker_pids() {
	children | sort
}

nworkers_is() {
	[ "$(children | wc -l)" -eq "$1" ]
}

@test "an oversize frame gets 'bad request' and closes only its connection" {
	write_conf "" 1 "max_frame = 1k"
	start_weftd
	# Length 1025 (one over max_frame): judged from the header alone.
	run $CLIENT "$ADDR" raw 0000040100000000
	assert_success
	assert_line --index 0 --regexp '^1 frame of 1025 bytes is over max_frame'
	assert_line --index 1 "closed"
	run $CLIENT "$ADDR" send "still serving"
	assert_line --index 0 "0 still serving"
	grep -q "frame of 1025 bytes is over max_frame (1024); closing" "$LOG"
}

@test "answers owed before a bad frame are sent first" {
	write_conf "$PY_HANDLER" 1
	start_weftd
	# A good request ("sleep:0"), then a header with flags set.
	run $CLIENT "$ADDR" raw "0000000700000000736c6565703a300000000000000001"
	assert_success
	assert_line --index 0 "0 sleep:0"
	assert_line --index 1 "1 frame flags must be 0"
	assert_line --index 2 "closed"
}

@test "kill -9 of a busy worker: its client gets 'worker failed', the pool is whole again" {
	write_conf "$PY_HANDLER" 2
	start_weftd
	before=$(worker_pids)
	$CLIENT "$ADDR" send "sleep:30" >"$BATS_TEST_TMPDIR/out" &
	wait_for grep -q ": sleeping" "$LOG"
	pid=$(sed -n 's/.*worker \([0-9]*\): sleeping.*/\1/p' "$LOG")
	kill -KILL "$pid"
	wait_for grep -q closed "$BATS_TEST_TMPDIR/out"
	run cat "$BATS_TEST_TMPDIR/out"
	assert_line --index 0 "4 worker failed"
	wait_for grep -q "worker $pid killed by signal 9" "$LOG"
	wait_for nworkers_is 2
	refute [ "$(worker_pids)" = "$before" ]
	run $CLIENT "$ADDR" send a b c
	assert_line --index 2 "0 c"
}

@test "a request over request_timeout gets 'timeout' and its worker is replaced" {
	write_conf "$PY_HANDLER" 1 "" "request_timeout = 300ms"
	start_weftd
	run $CLIENT "$ADDR" send "sleep:30" "after"
	assert_success
	assert_line --index 0 --regexp '^3 timeout: no answer within 300 ms'
	# The one behind it ran on the replacement (or timed out in the queue).
	assert_line --index 1 --regexp '^(0 after|3 timeout)'
	grep -q "request timed out; replacing it" "$LOG"
	wait_for grep -q "retired: request timeout" "$LOG"
	run $CLIENT "$ADDR" send "fresh"
	assert_line --index 0 "0 fresh"
}

@test "an answer cut off by its worker's exit is 'worker failed', not sent again" {
	# A request whose worker exits right after an answer ("warm") is sent
	# again once (taken for a handler that exits after n requests by
	# design), unless a part of its own answer came: it had begun. Past
	# 64 KiB that part is read into the request's own memory.
	local size starts=1
	write_conf "$PY_HANDLER" 1
	start_weftd
	for size in 1000 1000000; do
		run $CLIENT "$ADDR" send "warm" "half:$size" "next"
		assert_success
		assert_line --index 0 "0 warm"
		assert_line --index 1 "4 worker failed"
		assert_line --index 2 "0 next"
		# One death: the request was not tried on the replacement too.
		starts=$((starts + 1))
		[ "$(grep -c 'worker .* started' "$LOG")" -eq "$starts" ]
	done
	# Its end is logged: retired for its socket, or (when SIGCHLD came
	# before its loop saw the socket close: seen under tsan) as an exit.
	wait_for log_has_at_least 2 "worker [0-9]* \(.*retired: \(closed\|reset\) its socket)\|exited with status 0 after [0-9]* requests\)$"
}

@test "a large answer stuck half way is ended by request_timeout" {
	write_conf "$PY_HANDLER" 1 "" "request_timeout = 500ms"
	start_weftd
	run $CLIENT "$ADDR" send "halfhang:1000000" "after"
	assert_success
	assert_line --index 0 --regexp '^3 timeout: no answer within 500 ms'
	assert_line --index 1 --regexp '^(0 after|3 timeout)'
	wait_for grep -q "retired: request timeout" "$LOG"
	run $CLIENT "$ADDR" send "fresh"
	assert_line --index 0 "0 fresh"
}

@test "a full queue answers 'overloaded' at once" {
	write_conf "$PY_HANDLER" 1 "" "queue_limit = 1
	  pipeline = 1"
	start_weftd
	$CLIENT "$ADDR" send "sleep:2" >/dev/null &
	wait_for grep -q ": sleeping" "$LOG"
	# One more fits in the queue; the third is refused.
	run $CLIENT "$ADDR" send "queued" "refused"
	assert_success
	assert_line --index 0 "0 queued"
	assert_line --index 1 --regexp '^2 overloaded'
}

# With no worker free the queue is not looked at for new work; a client
# that leaves must still not keep its places in it until one frees.
@test "the queued requests of a client that left give up their places" {
	write_conf "$PY_HANDLER" 1 "io_threads = 1" "queue_limit = 4
	  pipeline = 1"
	start_weftd
	$CLIENT "$ADDR" send "sleep:8" >/dev/null 2>&1 &
	SLOWPID=$!
	wait_for grep -q ": sleeping" "$LOG"
	# Fills the queue (the fifth is refused), then resets: gone for sure
	# (a plain close could be a half-close still owed its answers). The
	# pause lets weftd read the requests before the reset.
	run timeout 5 "$PYTHON" -c '
import socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.sendall(b"".join(struct.pack("!IHH", 2, 0, 0) + b"q%d" % i for i in range(5)))
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()' "$ADDR"
	assert_success
	# Queued, not refused: no answer until the slow request is done.
	for i in $(seq 30); do
		run timeout 1 $CLIENT "$ADDR" send next
		[ "$status" -eq 124 ] && break
		assert_line --index 0 --regexp '^2 overloaded'
		sleep 0.1
	done
	kill "$SLOWPID" 2>/dev/null || true
	assert_equal "$status" 124
}

@test "a tagged handler's late duplicate never reaches the next client" {
	write_conf "\"$PYTHON\", \"$HELPERS/handler.py\", \"--tags\"" 1
	start_weftd
	# A's answer, then 0.5 s later the same answer again: by then B's
	# request is at the worker. Without tags B would get A's payload.
	SENT_FILE="$BATS_TEST_TMPDIR/a.sent" $CLIENT "$ADDR" send "late:0.5" \
	    >"$BATS_TEST_TMPDIR/a" &
	wait_for test -e "$BATS_TEST_TMPDIR/a.sent"
	run $CLIENT "$ADDR" send "b"
	assert_line --index 0 --regexp '^(0 b|4 worker failed)$'
	refute_output --partial "late"
	wait $!
	run cat "$BATS_TEST_TMPDIR/a"
	assert_line --index 0 "0 late:0.5"
	wait_for grep -q "an answer with tag 1, expected 2: not delivered" "$LOG"
	run $CLIENT "$ADDR" send "after"
	assert_line --index 0 "0 after"
}

@test "a handler writing garbage, twice, or too much is a failed worker" {
	write_conf "$PY_HANDLER" 1 "max_frame = 64k"
	start_weftd
	for verb in garbage extra big; do
		run $CLIENT "$ADDR" send "$verb"
		assert_line --index 0 --regexp '^(0|4) '
		[ "$verb" = extra ] || assert_line --index 0 "4 worker failed"
	done
	wait_for grep -q "retired: answered out of turn (tag)" "$LOG"
	wait_for grep -q "retired: wrote with no request outstanding" "$LOG"
	wait_for grep -q "retired: answer over max_frame" "$LOG"
	run $CLIENT "$ADDR" send "fine"
	assert_line --index 0 "0 fine"
}

@test "a handler that exits answers 'worker failed' and is replaced" {
	# "next" is pipelined to the same worker behind "exit:7": it is sent
	# once more, to the replacement.
	write_conf "$PY_HANDLER" 1
	start_weftd
	run $CLIENT "$ADDR" send "exit:7" "next"
	assert_line --index 0 "4 worker failed"
	assert_line --index 1 "0 next"
	wait_for grep -q "exited with status 7" "$LOG"
}

@test "a request behind workers that keep dying is resent 3 times, then fails" {
	# Each exit:1 kills the worker it heads; "x", pipelined behind them
	# all, is resent after each of the first three deaths, not a fourth.
	write_conf "$PY_HANDLER" 1
	start_weftd
	run $CLIENT "$ADDR" send "exit:1" "exit:1" "exit:1" "exit:1" "x"
	assert_line --index 0 "4 worker failed"
	assert_line --index 3 "4 worker failed"
	assert_line --index 4 "4 worker failed"
	run $CLIENT "$ADDR" send "exit:1" "exit:1" "exit:1" "x"
	assert_line --index 3 "0 x"
}

@test "a handler that answers and exits: its answer is delivered, the next resent" {
	# Its exit may be reaped before its answer is read: the answer must
	# still reach the client, and the request behind it the replacement.
	write_conf "$PY_HANDLER" 1
	start_weftd
	for i in 1 2 3 4 5 6 7 8; do
		run $CLIENT "$ADDR" send "last" "after $i"
		assert_line --index 0 "0 last"
		assert_line --index 1 "0 after $i"
	done
}

@test "a handler that dies at start is restarted with a growing backoff" {
	write_conf "\"$PYTHON\", \"$HELPERS/handler.py\", \"--die-at-start\"" 1
	start_weftd
	wait_for grep -q "workers keep failing at start (4 in a row); next start in 800 ms" "$LOG"
	# No fork storm: each start waited twice as long as the one before.
	assert_equal "$(grep -c 'worker [0-9]* started' "$LOG")" 4
}

@test "requests that kill their workers cost no backoff: others are served" {
	write_conf "$PY_HANDLER" 2
	start_weftd
	# Twelve crashes in a row, each a request's doing, each within 1 s of
	# the worker's start.
	for i in $(seq 1 12); do
		run $CLIENT "$ADDR" send "exit:1"
		assert_line --index 0 "4 worker failed"
	done
	run timeout 5 $CLIENT "$ADDR" send "served" "at once"
	assert_success
	assert_line --index 0 "0 served"
	assert_line --index 1 "0 at once"
	run grep "keep failing at start" "$LOG"
	assert_output ""
}

@test "two reloads close together never count as failing workers" {
	write_conf "" 8
	start_weftd
	kill -HUP "$WPID"
	wait_for grep -q "reload: 8 workers" "$LOG"
	kill -HUP "$WPID"
	wait_for sh -c "[ \$(grep -c 'reload: 8 workers' '$LOG') -eq 2 ]"
	wait_for nworkers_is 8
	run timeout 5 $CLIENT "$ADDR" send "after two reloads"
	assert_line --index 0 "0 after two reloads"
	run grep "keep failing at start" "$LOG"
	assert_output ""
}

@test "a reload to a handler that dies at start keeps the old workers serving" {
	write_conf "" 2
	start_weftd
	old=$(echo $(children))
	sed -i "s|^  command = .*|  command = { \"/bin/false\" }|" "$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "reload: workers of /bin/false die at start; 2 workers of the previous configuration keep serving" "$LOG"
	for i in 1 2 3 4 5; do
		run timeout 5 $CLIENT "$ADDR" send "still $i"
		assert_line --index 0 "0 still $i"
	done
	# The old workers are the ones serving; STATUS says what is wrong.
	for pid in $old; do kill -0 "$pid"; done
	wait_for grep -q "^STATUS=.*reload failed: the new handler's workers die at start" "$NLOG"
	run awk -v RS= '/RELOADING=1/ { r = NR } /READY=1/ && NR > r { ok = 1 } END { exit !ok }' "$NLOG"
	assert_success
	# Fixed and reloaded: new workers come up and replace the old ones.
	sed -i "s|^  command = .*|  command = { \"$C_ECHO\" }|" "$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "worker .* (retired: reload)" "$LOG"
	wait_for sh -c "for p in $old; do ! kill -0 \$p 2>/dev/null || exit 1; done"
	run timeout 5 $CLIENT "$ADDR" send "new ones"
	assert_line --index 0 "0 new ones"
	wait_for nworkers_is 2
}

@test "a handler that cannot be executed stops weftd at start" {
	write_conf "\"$BATS_TEST_TMPDIR\"" 1
	run timeout 10 "$WEFTD" -f -c "$CONF"
	assert_failure 1
	assert_output --partial "handler command $BATS_TEST_TMPDIR: not a regular file"
}

sockets_of_weftd() {
	find "/proc/$WPID/fd" -lname 'socket:*' | wc -l
}

@test "a worker whose set-up fails leaves no socket behind" {
	write_conf "" 2
	start_weftd
	run $CLIENT "$ADDR" send "plain"
	assert_line --index 0 "0 plain"
	plain=$(sockets_of_weftd)
	stop_weftd
	# The second worker's output pipe cannot be watched (ENOMEM): that
	# worker is retired and replaced; its socket must be closed with it.
	WEFT_FAIL_EPOLL_FIFO=2 LD_PRELOAD="$BUILD/tests/failinject.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		start_weftd
	wait_for grep -q "setting up: Cannot allocate memory" "$LOG"
	wait_for grep -q "set-up failed" "$LOG"
	wait_for nworkers_is 2
	run $CLIENT "$ADDR" send "after a failed set-up"
	assert_line --index 0 "0 after a failed set-up"
	assert_equal "$(sockets_of_weftd)" "$plain"
}
