#!/usr/bin/env bats
# Recycling: max_requests (+ jitter), max_lifetime (+ jitter), max_rss.
# Each replaces its worker gracefully: the successor starts first, the old
# worker answers what it has, no request is lost.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() {
	[ -z "${LOADER:-}" ] || kill "$LOADER" 2>/dev/null || true
	weftd_teardown
}

start_recycling() {
	CTL="$BATS_TEST_TMPDIR/ctl.sock"
	write_conf "$PY_HANDLER" "$1" "control = \"unix:$CTL\"" "$2"
	start_weftd
}

json() {
	timeout 30 "$BUILD/weftctl" -s "$CTL" status --json |
		"$PYTHON" -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# The line numbers of the first lines matching each pattern, in the log.
first_line() {
	grep -n -m1 -e "$1" "$LOG" | cut -d: -f1
}

@test "max_requests: after that many answers the worker is replaced, its successor first" {
	start_recycling 1 "max_requests = 5"
	run $CLIENT "$ADDR" send pid pid pid pid pid
	assert_success
	old=$(echo "${lines[0]}" | cut -d' ' -f2)
	wait_for log_has_at_least 1 "worker $old recycled (max_requests, after 5 requests): its successor starts first"
	wait_for log_has_at_least 1 "worker $old .*(retired: recycled: max_requests)"
	# Its successor started before it was retired.
	started=$(grep -n 'worker [0-9]* started' "$LOG" | sed -n 2p | cut -d: -f1)
	retired=$(first_line "worker $old .*(retired: recycled: max_requests)")
	[ -n "$started" ] && [ "$started" -lt "$retired" ] ||
		fail "the successor (log line ${started:-none}) did not start before the old worker went (line $retired)"
	run $CLIENT "$ADDR" send pid
	refute_output "0 $old"
	run json "j['pools'][0]['recycled']['max_requests'], j['pools'][0]['worker_list'][0]['last_exit']"
	assert_output "1 recycled: max_requests"
}

@test "max_requests under load: workers recycle again and again, no request lost" {
	start_recycling 2 "max_requests = 20"
	"$PYTHON" "$HELPERS/load.py" "$ADDR" "$BATS_TEST_TMPDIR/stop" 4 \
		>"$BATS_TEST_TMPDIR/load.out" 2>&1 &
	LOADER=$!
	wait_for log_has_at_least 4 "(retired: recycled: max_requests)"
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$LOADER"
	LOADER=
	run cat "$BATS_TEST_TMPDIR/load.out"
	assert_output --regexp '^[1-9][0-9]* answers, 0 wrong$'
	refute_line --partial "worker failed"
}

@test "max_requests_jitter: each worker gets its own limit in [max_requests, max_requests + jitter]" {
	start_recycling 6 "max_requests = 1000
	  max_requests_jitter = 1000"
	run json "' '.join(str(w['max_requests']) for w in j['pools'][0]['worker_list'])"
	assert_success
	n=0
	for v in $output; do
		[ "$v" -ge 1000 ] && [ "$v" -le 2000 ] || fail "limit $v outside 1000..2000"
		n=$((n + 1))
	done
	[ "$n" = 6 ]
	# Six draws from 1001 values all equal: one chance in 10^15.
	[ "$(echo $output | tr ' ' '\n' | sort -u | wc -l)" -gt 1 ]
}

@test "max_lifetime: a worker that old is replaced, its successor first, no request lost" {
	start_recycling 1 "max_lifetime = 1s"
	"$PYTHON" "$HELPERS/load.py" "$ADDR" "$BATS_TEST_TMPDIR/stop" 2 \
		>"$BATS_TEST_TMPDIR/load.out" 2>&1 &
	LOADER=$!
	wait_for log_has_at_least 1 "(retired: recycled: max_lifetime)"
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$LOADER"
	LOADER=
	run cat "$BATS_TEST_TMPDIR/load.out"
	assert_output --regexp '^[1-9][0-9]* answers, 0 wrong$'
	run json "j['pools'][0]['recycled']['max_lifetime'] >= 1"
	assert_output True
}

@test "max_rss: a worker above it after a request is replaced" {
	start_recycling 1 "max_rss = 64m"
	run $CLIENT "$ADDR" send pid hold:1000 pid
	old=$(echo "${lines[0]}" | cut -d' ' -f2)
	# Small: it stays.
	run json "j['pools'][0]['recycled']['max_rss']"
	assert_output 0
	run $CLIENT "$ADDR" send hold:100000000
	assert_output "0 hold:100000000
closed"
	wait_for log_has_at_least 1 "worker $old recycled (max_rss, after 4 requests)"
	wait_for log_has_at_least 1 "worker $old .*(retired: recycled: max_rss)"
	run $CLIENT "$ADDR" send pid
	refute_output "0 $old"
}

@test "weftd -t: recycling settings are checked" {
	for v in "max_requests = -1" "max_requests_jitter = x" \
	    "max_lifetime = forever" "max_rss = lots"; do
		write_conf "" 1 "" "$v"
		run "$WEFTD" -t -c "$CONF"
		assert_failure 1
		assert_output --regexp "^weftd: $CONF:[0-9]+: "
	done
}
