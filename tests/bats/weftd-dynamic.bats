#!/usr/bin/env bats
# Dynamic pools: min_workers .. max_workers with spare_workers,
# worker_idle_timeout and spawn_rate; min_workers = 0 starts on demand.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() {
	weftd_teardown
}

start_dynamic() {
	CTL="$BATS_TEST_TMPDIR/ctl.sock"
	write_conf "$PY_HANDLER" 1 "control = \"unix:$CTL\"" "$1"
	# One form or the other: the dynamic one replaces `workers = 1`.
	sed -i '/^ *workers = 1$/d' "$CONF"
	start_weftd
}

json() {
	timeout 30 "$BUILD/weftctl" -s "$CTL" status --json |
		"$PYTHON" -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

json_is() {
	[ "$(json "$1")" = "$2" ]
}

@test "a burst grows the pool, at most spawn_rate starts a second, and it shrinks back; no request lost" {
	start_dynamic "min_workers = 1
	  max_workers = 6
	  spare_workers = 0
	  worker_idle_timeout = 1s
	  spawn_rate = 3
	  pipeline = 1"
	[ "$(children | wc -l)" = 1 ]
	pids=
	for i in $(seq 1 12); do
		$CLIENT "$ADDR" send sleep:1 >"$BATS_TEST_TMPDIR/out.$i" &
		pids="$pids $!"
	done
	wait_for json_is "j['pools'][0]['workers']['configured']" 6
	for p in $pids; do wait "$p"; done
	for i in $(seq 1 12); do
		run cat "$BATS_TEST_TMPDIR/out.$i"
		assert_line "0 sleep:1"
	done
	# Never more than spawn_rate (the bucket's depth) in one step, never
	# past max_workers.
	run sed -n 's/.*growing to \([0-9]*\) workers.*/\1/p' "$LOG"
	prev=1
	for n in "${lines[@]}"; do
		[ $((n - prev)) -le 3 ] || fail "grew from $prev to $n at once"
		[ "$n" -le 6 ] || fail "grew to $n, over max_workers"
		prev=$n
	done
	[ "$prev" = 6 ]
	# Idle for worker_idle_timeout: back to min_workers.
	wait_for json_is "j['pools'][0]['workers']['configured']" 1
	wait_for children_are 1
	assert [ "$(grep -c '(retired: idle)' "$LOG")" -ge 5 ]
	run json "j['pools'][0]['workers']['dynamic'], j['pools'][0]['workers']['min'], j['pools'][0]['workers']['max']"
	assert_output "True 1 6"
}

@test "a shrinking pool never stops a worker that has a request" {
	start_dynamic "min_workers = 0
	  max_workers = 3
	  spare_workers = 0
	  worker_idle_timeout = 200ms"
	# Requests spaced just past the idle timeout: each may meet a worker
	# being told to go. Every one must be answered by a handler.
	run "$PYTHON" - "$ADDR" <<-'END'
	import socket, struct, sys, time
	H = struct.Struct("!IHH")
	host, _, port = sys.argv[1].rpartition(":")
	s = socket.create_connection((host, int(port)), 20)
	bad = 0
	for i in range(25):
	    p = b"n%d" % i
	    s.sendall(H.pack(len(p), 0, 0) + p)
	    h = s.recv(8, socket.MSG_WAITALL)
	    n, st, _ = H.unpack(h)
	    body = s.recv(n, socket.MSG_WAITALL) if n else b""
	    if st != 0 or body != p:
	        bad += 1
	        print("answer", i, st, body)
	    time.sleep(0.19 + (i % 5) * 0.01)
	print("bad", bad)
	END
	assert_success
	assert_line "bad 0"
	refute_line --partial "worker failed"
}

@test "min_workers = 0: no worker until a request comes, none once they idle out" {
	start_dynamic "min_workers = 0
	  max_workers = 2
	  spare_workers = 0
	  worker_idle_timeout = 300ms"
	[ "$(children | wc -l)" = 0 ]
	run timeout 30 "$BUILD/weftctl" -s "$CTL" status
	assert_line --partial "workers 0 (min 0, max 2)"
	run $CLIENT "$ADDR" send on-demand
	assert_line "0 on-demand"
	wait_for children_are 0
	run $CLIENT "$ADDR" send again
	assert_line "0 again"
}

@test "weftctl pool NAME workers N on a dynamic pool sets max_workers" {
	start_dynamic "min_workers = 2
	  max_workers = 4"
	run timeout 30 "$BUILD/weftctl" -s "$CTL" pool default workers 1
	assert_success
	assert_output --partial "max_workers 4 -> 1; not saved"
	wait_for children_are 1
	run json "j['pools'][0]['workers']['min'], j['pools'][0]['workers']['max']"
	assert_output "1 1"
}

@test "weftd -t: one form of pool size, and consistent limits" {
	for v in "workers = 2
	  max_workers = 4" "min_workers = 5
	  max_workers = 4" "spare_workers = 2" "max_workers = 0" \
	    "max_workers = 2
	  spawn_rate = 0" "max_workers = 2
	  worker_idle_timeout = never"; do
		write_conf "" 1 "" "$v"
		grep -q "^ *workers = 2$" <<<"$v" || sed -i '/^ *workers = 1$/d' "$CONF"
		run "$WEFTD" -t -c "$CONF"
		assert_failure 1
		assert_output --regexp "^weftd: $CONF:[0-9]+: "
	done
	write_conf "" 1 "" "min_workers = 0
	  max_workers = 8"
	sed -i '/^ *workers = 1$/d' "$CONF"
	run "$WEFTD" -t -c "$CONF"
	assert_success
}
