#!/usr/bin/env bats
# weft-cat against examples/frame_echo (and a server that answers errors).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."
BUILD="${WEFT_BUILD:-$TOP/build}"
CAT="$BUILD/weft-cat"

# Start a server that prints "... listening on HOST:PORT ..." and wait for
# that line: readiness and the kernel-chosen port in one.
start_server() {
	"$@" >"$BATS_TEST_TMPDIR/srv.out" 2>&1 &
	SRV=$!
	for _ in $(seq 1 200); do
		ADDR=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$BATS_TEST_TMPDIR/srv.out")
		[ -n "$ADDR" ] && return 0
		kill -0 "$SRV" 2>/dev/null || break
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/srv.out" >&2
	return 1
}

teardown() {
	if [ -n "${SRV:-}" ]; then
		kill -TERM "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null || true
	fi
}

@test "each line is a request, each response a line" {
	start_server "$BUILD/examples/frame_echo" --port 0
	run sh -c "printf 'hello\nworld\n\nlast' | timeout 10 '$CAT' $ADDR"
	assert_success
	assert_output "$(printf 'hello\nworld\n\nlast')"
}

@test "-a sends all of stdin as one request and prints the answer as is" {
	start_server "$BUILD/examples/frame_echo" --port 0
	head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	run sh -c "timeout 10 '$CAT' -a $ADDR <'$BATS_TEST_TMPDIR/in' >'$BATS_TEST_TMPDIR/out'"
	assert_success
	run cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	assert_success
}

# A server that reads one request ("x"), writes the bytes given in hex, and
# closes cleanly.
closing_server() {
	start_server python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
c, _ = s.accept()
c.recv(9, socket.MSG_WAITALL)
c.sendall(bytes.fromhex(sys.argv[1]))
c.close()' "$1"
}

@test "an error status goes to stderr and exits 1" {
	# length 9, status 150, flags 0, "no such x"
	closing_server "00000009009600006e6f20737563682078"
	run sh -c "echo x | timeout 10 '$CAT' $ADDR"
	assert_failure 1
	assert_output "weft-cat: status 150: no such x"
}

@test "a server that closes the connection is named as such, exit 2" {
	closing_server ""
	run sh -c "echo x | timeout 10 '$CAT' $ADDR"
	assert_failure 2
	assert_output "weft-cat: the server closed the connection before answering"
	closing_server "0000000a0000"
	run sh -c "echo x | timeout 10 '$CAT' $ADDR"
	assert_failure 2
	assert_output "weft-cat: the server closed the connection in the middle of a response"
}

@test "a bad address or a refused connection exits 2 with a message" {
	run "$CAT" nonsense
	assert_failure 2
	assert_output --partial "not an address"
	# A port nobody listens on: bind one, then let it go.
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run sh -c "echo x | '$CAT' 127.0.0.1:$port"
	assert_failure 2
	assert_output --partial "Connection refused"
}
