#!/usr/bin/env bats
# Readiness, status and shutdown: systemd's notify protocol, graceful drain,
# shutdown_timeout, a second signal, no child left behind.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() { weftd_teardown; }

all_gone() {
	local p
	for p in "$@"; do
		! kill -0 "$p" 2>/dev/null || return 1
	done
}

@test "READY, STATUS and STOPPING arrive on the notify socket in that order" {
	write_conf
	start_weftd
	# The line operators grep for, unchanged since there was one pool.
	grep -q "notice: ready: 2 IO threads, 2 workers of $C_ECHO$" "$LOG"
	run $CLIENT "$ADDR" send one two
	wait_for grep -q "STATUS=.*2 requests served, 2/2 workers" "$NLOG"
	stop_weftd
	assert_equal "$WSTATUS" 0
	wait_for grep -q "^STATUS=stopped" "$NLOG"
	run grep -n -m1 -e '^READY=1' "$NLOG"
	ready=${output%%:*}
	run grep -n -m1 -e '^STATUS=' "$NLOG"
	status_line=${output%%:*}
	run grep -n -m1 -e '^STOPPING=1' "$NLOG"
	stopping=${output%%:*}
	[ "$ready" -lt "$status_line" ]
	[ "$status_line" -lt "$stopping" ]
}

@test "SIGTERM answers every request in flight, exits 0 and leaves no child" {
	write_conf "$PY_HANDLER" 2
	start_weftd
	kids=$(children)
	for i in 1 2 3; do
		SENT_FILE="$BATS_TEST_TMPDIR/sent$i" \
		    $CLIENT "$ADDR" send "sleep:1" >"$BATS_TEST_TMPDIR/out$i" &
	done
	# All three sent; two running, one queued.
	for i in 1 2 3; do
		wait_for test -e "$BATS_TEST_TMPDIR/sent$i"
	done
	wait_for log_has_at_least 2 ': sleeping'
	stop_weftd
	assert_equal "$WSTATUS" 0
	for i in 1 2 3; do
		wait_for grep -q closed "$BATS_TEST_TMPDIR/out$i"
		run cat "$BATS_TEST_TMPDIR/out$i"
		assert_line --index 0 "0 sleep:1"
	done
	all_gone $kids
	run cat "$LOG"
	assert_line --partial "SIGTERM: shutting down ("
	assert_line --partial "stopped"
}

@test "SIGTERM answers the complete requests still in weftd's buffers" {
	write_conf "$PY_HANDLER" 1 "max_pipeline = 2"
	start_weftd
	# Two go to the worker; eight are read but wait for room.
	SENT_FILE="$BATS_TEST_TMPDIR/sent" $CLIENT "$ADDR" send "sleep:0.5" \
	    $(seq 2 10) >"$BATS_TEST_TMPDIR/out" &
	wait_for test -e "$BATS_TEST_TMPDIR/sent"
	wait_for log_has_at_least 1 ': sleeping'
	stop_weftd
	assert_equal "$WSTATUS" 0
	wait_for grep -q closed "$BATS_TEST_TMPDIR/out"
	run cat "$BATS_TEST_TMPDIR/out"
	assert_line --index 0 "0 sleep:0.5"
	for i in $(seq 2 10); do
		assert_line --index $((i - 1)) "0 $i"
	done
	assert_line --index 10 "closed"
}

@test "while draining, new connections are refused" {
	write_conf "$PY_HANDLER" 1
	start_weftd
	$CLIENT "$ADDR" send "sleep:2" >"$BATS_TEST_TMPDIR/out" &
	wait_for grep -q ": sleeping" "$LOG"
	kill -TERM "$WPID"
	wait_for grep -q "^STOPPING=1" "$NLOG"
	wait_for sh -c "! $CLIENT $ADDR send late >/dev/null 2>&1"
	wait "$WPID"
	WPID=
	run cat "$BATS_TEST_TMPDIR/out"
	assert_line --index 0 "0 sleep:2"
}

@test "at shutdown_timeout what still runs gets 'shutting down'" {
	write_conf "$PY_HANDLER" 1 "shutdown_timeout = 300ms"
	start_weftd
	kids=$(children)
	$CLIENT "$ADDR" send "sleep:30" "queued" >"$BATS_TEST_TMPDIR/out" &
	wait_for grep -q ": sleeping" "$LOG"
	stop_weftd
	assert_equal "$WSTATUS" 0
	wait_for grep -q closed "$BATS_TEST_TMPDIR/out"
	run cat "$BATS_TEST_TMPDIR/out"
	assert_line --index 0 "5 shutting down"
	assert_line --index 1 "5 shutting down"
	all_gone $kids
}

@test "a second SIGTERM exits at once with status 1, no child left" {
	write_conf "$PY_HANDLER" 1 "shutdown_timeout = 60s"
	start_weftd
	kids=$(children)
	$CLIENT "$ADDR" send "sleep:30" >/dev/null 2>&1 &
	wait_for grep -q ": sleeping" "$LOG"
	kill -TERM "$WPID"
	wait_for grep -q "^STOPPING=1" "$NLOG"
	kill -TERM "$WPID"
	WSTATUS=0
	wait "$WPID" || WSTATUS=$?
	WPID=
	assert_equal "$WSTATUS" 1
	grep -q "SIGTERM again: exiting at once" "$LOG"
	all_gone $kids
}

@test "idle connections time out, a connection awaiting an answer does not" {
	write_conf "$PY_HANDLER" 1 "idle_timeout = 300ms"
	start_weftd
	run $CLIENT "$ADDR" send "sleep:1"
	assert_line --index 0 "0 sleep:1"
	# raw with no bytes: nothing to answer; the idle timeout closes it.
	run $CLIENT "$ADDR" raw ""
	assert_output "closed"
}

@test "a dead worker leaves no zombie" {
	write_conf "$PY_HANDLER" 1
	start_weftd
	run $CLIENT "$ADDR" send "exit:0"
	assert_line --index 0 "4 worker failed"
	wait_for grep -q "exited with status 0" "$LOG"
	run sh -c "ps -o stat= --ppid $WPID | grep -c Z"
	assert_output 0
}
