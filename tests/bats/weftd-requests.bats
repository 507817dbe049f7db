#!/usr/bin/env bats
# weftd serves requests through its handlers: C and Python, pipelined,
# concurrent, over TCP and Unix sockets, status codes passed through.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() {
	weftd_teardown
	[ -z "${SOCKDIR:-}" ] || rm -rf "$SOCKDIR"
}

@test "a request makes the round trip through the C echo handler" {
	write_conf
	start_weftd
	run sh -c "printf 'hello\nworld\n' | timeout 10 '$CAT' $ADDR"
	assert_success
	assert_output "$(printf 'hello\nworld')"
}

@test "a request makes the round trip through a Python handler" {
	write_conf "$PY_HANDLER"
	start_weftd
	run $CLIENT "$ADDR" send "hello from python" "status:150"
	assert_success
	assert_line --index 0 "0 hello from python"
	assert_line --index 1 "150 status:150"
}

@test "a handler's status code reaches weft-cat, which exits 1" {
	write_conf "$PY_HANDLER"
	start_weftd
	run sh -c "echo status:404 | timeout 10 '$CAT' $ADDR"
	assert_failure 1
	assert_output --partial "status 404"
}

@test "1000 pipelined requests on one connection come back in order" {
	write_conf "" 4
	start_weftd
	run $CLIENT "$ADDR" pipeline 1000
	assert_success
	assert_output "1000 answers in order"
}

@test "1000 pipelined requests stay in order with pipelining to workers" {
	write_conf "" 3 "" "pipeline = 8"
	start_weftd
	run $CLIENT "$ADDR" pipeline 1000
	assert_success
	assert_output "1000 answers in order"
}

# Pipelining to workers is on by default, yet a request goes to an idle
# worker first: one on another IO loop too. The slow client's answer must
# still be owed when the fast one has all of its own.
slow_never_delays() {
	write_conf "$PY_HANDLER" 2 "io_threads = $1"
	start_weftd
	SLOW="$BATS_TEST_TMPDIR/slow.out"
	$CLIENT "$ADDR" send "sleep:20" >"$SLOW" 2>&1 &
	SLOWPID=$!
	wait_for grep -q ": sleeping" "$LOG"
	for i in 1 2 3 4 5 6; do
		run $CLIENT "$ADDR" send "fast $i" "more $i"
		assert_success
		assert_line --index 0 "0 fast $i"
		assert_line --index 1 "0 more $i"
	done
	[ ! -s "$SLOW" ]
	kill "$SLOWPID" 2>/dev/null || true
}

@test "a slow request never delays another while a worker is idle" {
	slow_never_delays 1
}

@test "... nor when the idle worker belongs to another IO thread" {
	slow_never_delays 2
}

# How deep a busy worker is sent requests: one connection pipelines a slow
# request and COUNT "waiting" ones (PAD bytes of padding each) to one
# worker; each answer is how many bytes of requests were waiting in the
# worker's socket. Prints the most.
most_waiting() {
	local pad="" i args=()
	[ "$2" -gt 0 ] && pad=":$(head -c "$2" /dev/zero | tr '\0' x)"
	for ((i = 0; i < $1; i++)); do args+=("waiting$pad"); done
	run timeout 20 $CLIENT "$ADDR" send "sleep:0.2" "${args[@]}"
	assert_success
	assert_line --index 0 "0 sleep:0.2"
	assert_equal "${#lines[@]}" $(($1 + 2)) # and "closed"
	printf '%s\n' "${lines[@]:1}" | awk '{ if ($2 > m) m = $2 } END { print m + 0 }'
}

@test "pipeline = N: a busy worker is never sent more than N requests" {
	write_conf "$PY_HANDLER" 1 "io_threads = 1" "pipeline = 4"
	start_weftd
	most=$(most_waiting 100 0)
	# 3 requests of 15 bytes behind the one being answered.
	[ "$most" -gt 0 ] && [ "$most" -le 45 ] || fail "most waiting: $most bytes"
}

@test "pipeline = auto: a backlog reaches a busy worker in batches of up to 256" {
	write_conf "$PY_HANDLER" 1 "io_threads = 1
	max_pipeline = 1000"
	start_weftd
	most=$(most_waiting 600 0)
	# Deeper than a fixed 16 (15 behind the first, 15 bytes each), never
	# more than 255 behind it.
	[ "$most" -gt 225 ] && [ "$most" -le 3825 ] ||
	    fail "most waiting: $most bytes"
}

@test "pipeline = auto: a busy worker is sent at most 64 KiB of requests" {
	write_conf "$PY_HANDLER" 1 "io_threads = 1"
	start_weftd
	# 20 requests of 10,008 bytes: 6 fit in 64 KiB with the slow one.
	most=$(most_waiting 20 10000)
	[ "$most" -gt 16384 ] && [ "$most" -lt 65536 ] ||
	    fail "most waiting: $most bytes"
}

# Nothing is pipelined behind a request that has run 10 ms: with both
# workers busy for longer, a request waits for the first to free, not the
# one whose request began last (which pipelining would pick).
@test "a request is not sent to wait behind one that already takes long" {
	write_conf "$PY_HANDLER" 2 "io_threads = 1"
	start_weftd
	$CLIENT "$ADDR" send "sleep:0.5" >/dev/null 2>&1 &
	A=$!
	wait_for grep -q ": sleeping" "$LOG"
	first=$(sed -n 's/.*worker \([0-9]*\): sleeping.*/\1/p' "$LOG")
	$CLIENT "$ADDR" send "sleep:3" >/dev/null 2>&1 &
	B=$!
	wait_for log_has_at_least 2 ': sleeping'
	sleep 0.05 # both requests are older than 10 ms now
	run timeout 10 $CLIENT "$ADDR" send pid
	kill "$A" "$B" 2>/dev/null || true
	assert_success
	assert_line --index 0 "0 $first"
}

@test "large answers to small requests, pipelined to one worker, come back whole and in order" {
	# Each large one is read into its request's job, grown first: the
	# requests behind it on the worker must not notice it moved.
	write_conf "$PY_HANDLER" 1 "" "pipeline = 8"
	start_weftd
	run $CLIENT "$ADDR" send "large:300000" "small" "large:70000" "large:1000000" "end"
	assert_success
	[ "${#lines[0]}" -eq $((2 + 300000)) ]
	assert_line --index 1 "0 small"
	[ "${#lines[2]}" -eq $((2 + 70000)) ]
	[ "${#lines[3]}" -eq $((2 + 1000000)) ]
	assert_line --index 4 "0 end"
	[[ ${lines[3]} =~ ^0\ x+$ ]]
}

@test "200 concurrent connections are all answered" {
	write_conf "" 2 "max_connections = 300"
	start_weftd
	run $CLIENT "$ADDR" concurrent 200
	assert_success
	assert_output "200 connections answered"
}

@test "a 70 MiB request passes with max_frame = 128m, through the C SDK" {
	write_conf "" 1 "max_frame = 128m"
	start_weftd
	run timeout 320 "$PYTHON" "$HELPERS/hostile.py" "$ADDR" flood 1 first 1 $((70 << 20)) 300
	assert_success
	assert_output --partial "2 answered in order (1 x status 0)"
	run grep "retired\|does not read" "$LOG"
	assert_output ""
}

@test "a Unix socket listener serves requests" {
	write_conf "" 1
	sed -i "s|^listen = .*|listen = { \"unix:$BATS_TEST_TMPDIR/w.sock\" }|" "$CONF"
	start_weftd
	assert_equal "$ADDR" "unix:$BATS_TEST_TMPDIR/w.sock"
	run $CLIENT "$ADDR" send "over unix"
	assert_success
	assert_line --index 0 "0 over unix"
	# unix_socket's default mode, whatever weftd's umask.
	run stat -c '%A' "$BATS_TEST_TMPDIR/w.sock"
	assert_output "srw-rw----"
}

@test "unix_socket sets a Unix listener's owner, group and mode" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the socket away"
	# Outside the test's tmpdir and the tree: both may be closed to others.
	SOCKDIR=$(mktemp -d /tmp/weft-sock.XXXXXX)
	dir=$SOCKDIR
	chmod 0711 "$dir"
	cp "$CAT" "$dir/weft-cat"
	write_conf "" 1 "unix_socket {
	  owner = nobody
	  group = nogroup
	  mode = 0660
	}"
	sed -i "s|^listen = .*|listen = { \"unix:$dir/w.sock\" }|" "$CONF"
	start_weftd
	run stat -c '%A %U %G' "$dir/w.sock"
	assert_output "srw-rw---- nobody nogroup"
	# The group may connect; a user outside it may not.
	as() { setpriv --reuid="$1" --regid="$1" --clear-groups "$dir/weft-cat" "unix:$dir/w.sock"; }
	run as 65534 <<<hello
	assert_success
	assert_output "hello"
	run as 12345 <<<hello
	assert_failure 2
	assert_output --partial "Permission denied"
}

@test "a handler sees only its socket, stdio, WEFT_FD and the configured env" {
	write_conf "$PY_HANDLER" 1 "" 'env = { "GREETING=hi there" }'
	start_weftd
	run $CLIENT "$ADDR" send env pid
	assert_success
	# Python sets LC_CTYPE itself when the locale is C (PEP 538).
	assert_equal "$(echo "$output" | grep -v '^LC_CTYPE=' | head -n 3)" \
	    "$(printf '0 GREETING=hi there\nWEFT_FD=3\nWEFT_MAX_FRAME=1048576')"
	pid=$(echo "$output" | sed -n 's/^0 \([0-9][0-9]*\)$/\1/p')
	[ -n "$pid" ]
	assert_equal "$(echo $(ls /proc/$pid/fd | sort -n))" "0 1 2 3"
	assert_equal "$(readlink /proc/$pid/fd/0)" "/dev/null"
	# No shell in between: the worker is weftd's own child.
	assert_equal "$(ps -o ppid= -p $pid | tr -d ' ')" "$WPID"
}

@test "handler output is logged line by line with its pid, control bytes escaped" {
	write_conf "$PY_HANDLER" 1
	start_weftd
	run $CLIENT "$ADDR" send 'print:one\nfake\x1b[31m' pid
	assert_success
	pid=$(echo "$output" | sed -n 's/^0 \([0-9][0-9]*\)$/\1/p')
	wait_for grep -q "worker $pid: fake" "$LOG"
	run cat "$LOG"
	assert_line --partial "worker $pid: one"
	assert_line --partial "worker $pid: fake\\x1b[31m"
}

@test "a client that half-closes after sending still gets every answer" {
	write_conf "$PY_HANDLER" 2
	start_weftd
	run $CLIENT "$ADDR" halfclose "sleep:0.3" "second" "third"
	assert_success
	assert_line --index 0 "0 sleep:0.3"
	assert_line --index 1 "0 second"
	assert_line --index 2 "0 third"
	assert_line --index 3 "closed"
}

@test "a half-close past max_pipeline loses no answer" {
	write_conf "" 2 "max_pipeline = 8"
	start_weftd
	# The ninth waits in weftd's buffer, read already, when the end of
	# file arrives: it is answered too. Every try.
	for try in $(seq 1 20); do
		run $CLIENT "$ADDR" halfclose 1 2 3 4 5 6 7 8 9
		assert_success
		assert_line --index 8 "0 9"
		assert_line --index 9 "closed"
	done
	run $CLIENT "$ADDR" halfclose $(seq 1 200)
	assert_success
	assert_line --index 199 "0 200"
	assert_line --index 200 "closed"
}
