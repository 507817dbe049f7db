#!/usr/bin/env bats
# The examples as a user gets them: installed under share/doc/weft/examples,
# built from there as C and as C++ against the installed library, and run.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."
EX="${WEFT_BUILD:-$TOP/build}/examples"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)

teardown() {
	if [ -n "${EPID:-}" ]; then
		kill "$EPID" 2>/dev/null || true
		wait "$EPID" 2>/dev/null || true
	fi
}

# Start examples/echo with "$@"; sets EPID and PORT once it listens.
start_echo() {
	local out="$BATS_TEST_TMPDIR/echo.out" i
	"$EX/echo" --port 0 "$@" >"$out" 2>&1 &
	EPID=$!
	for i in $(seq 1 250); do
		PORT=$(sed -n 's/^echo: listening on 127.0.0.1:\([0-9]*\) .*/\1/p' "$out")
		[ -n "$PORT" ] && return 0
		kill -0 "$EPID" 2>/dev/null || break
		sleep 0.02
	done
	cat "$out" >&2
	return 1
}

# EPID's exit status, waited for at most 10 s (in this shell: its child).
echo_exit() {
	local i rc=0
	for i in $(seq 1 500); do
		kill -0 "$EPID" 2>/dev/null || break
		sleep 0.02
	done
	wait "$EPID" || rc=$?
	EPID=
	return "$rc"
}

@test "the installed examples build as C (-Wall -Wextra -Werror) and as C++" {
	command -v g++ || fail "g++ (make test-deps) is not installed"
	dest="$BATS_TEST_TMPDIR/dest"
	run make -s --no-print-directory -C "$TOP" install DESTDIR="$dest" PREFIX=/usr
	assert_success
	docs="$dest/usr/share/doc/weft/examples"
	assert [ -f "$docs/README" ]
	n=0
	for src in "$docs"/*.c "$docs"/handlers/*.c; do
		bin="$BATS_TEST_TMPDIR/$(basename "$src" .c)"
		run cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE \
			-I"$dest/usr/include" -o "$bin" "$src" "$dest/usr/lib/libweft.a" -lpthread
		[ "$status" = 0 ] || fail "cc $src: $output"
		run g++ -std=c++20 -Wall -Wextra -Werror -D_GNU_SOURCE \
			-I"$dest/usr/include" -x c++ "$src" -x none -o "$bin.cxx" \
			"$dest/usr/lib/libweft.a" -lpthread
		[ "$status" = 0 ] || fail "g++ $src: $output"
		n=$((n + 1))
	done
	# Every example of the tree is installed.
	assert_equal "$n" "$(ls "$TOP"/examples/*.c "$TOP"/examples/handlers/*.c | wc -l)"
}

# A client sends, reads its echo, then holds the connection while the
# server is told to stop: it must see a clean end of stream, and the
# server must exit 0 once the client is gone.
graceful() {
	start_echo "$@"
	run timeout 20 "$PYTHON" - "$PORT" "$EPID" <<'PY'
import os, signal, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"before")
assert s.recv(64) == b"before"
os.kill(int(sys.argv[2]), signal.SIGTERM)
s.settimeout(10)
assert s.recv(64) == b"", "no clean end of stream"
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    print("still accepting")
except ConnectionRefusedError:
    print("refused")
PY
	assert_success
	assert_output "refused"
	echo_exit || fail "echo exited with status $?"
}

@test "echo: SIGTERM closes every connection gracefully, then exits 0 (own threads)" {
	graceful --threads 2
}

@test "echo: the same on the caller's own loop (--threads 0)" {
	graceful --threads 0
}

@test "echo: an idle connection is closed after --idle" {
	start_echo --threads 0 --idle 1
	run timeout 20 "$PYTHON" - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
t = time.monotonic()
assert s.recv(64) == b""
print("closed" if time.monotonic() - t >= 0.9 else "too early")
PY
	assert_output "closed"
}

@test "resolve: a host name resolved in a thread, connected on the loop" {
	start_echo --threads 1
	# A bare root may have no /etc/hosts: then a numeric host, which goes
	# through the same getaddrinfo() in the resolver thread.
	host=localhost
	getent hosts localhost >/dev/null || host=127.0.0.1
	run timeout 20 "$EX/resolve" "$host" "$PORT" "by name"
	assert_success
	assert_output "by name"
	run timeout 20 "$EX/resolve" no-such-host.invalid "$PORT"
	assert_failure 1
	assert_output --partial "no-such-host.invalid:"
}

@test "lines: pipes as streams, with backpressure, and a reader that leaves" {
	run sh -c "printf 'a\nb\nlast' | '$EX/lines'"
	assert_success
	assert_output "$(printf '     1\ta\n     2\tb\n     3\tlast')"
	# More than any pipe holds, through a slow reader: nothing lost.
	run sh -c "seq 1 200000 | '$EX/lines' | (sleep 0.5; tail -n 1)"
	assert_success
	assert_output "$(printf '200000\t200000')"
	# The reader goes: an error and a non-zero exit, not a crash.
	run bash -c "seq 1 300000 | '$EX/lines' 2>'$BATS_TEST_TMPDIR/err' | head -n 1 >/dev/null; echo \${PIPESTATUS[1]}"
	assert_output "1"
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output "lines: stdout: Broken pipe"
}

@test "udp_echo: datagrams come back to their sender; a long one is cut and not echoed" {
	out="$BATS_TEST_TMPDIR/udp.out"
	"$EX/udp_echo" --port 0 >"$out" 2>&1 &
	EPID=$!
	for i in $(seq 1 250); do
		PORT=$(sed -n 's/^udp_echo: listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out")
		[ -n "$PORT" ] && break
		sleep 0.02
	done
	[ -n "$PORT" ] || fail "udp_echo did not start: $(cat "$out")"
	run timeout 20 "$PYTHON" - "$PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for i in range(100):
    s.sendto(b"d%d" % i, ("127.0.0.1", int(sys.argv[1])))
    assert s.recv(2048) == b"d%d" % i
s.sendto(b"x" * 2000, ("127.0.0.1", int(sys.argv[1])))  # over max_datagram
s.sendto(b"after", ("127.0.0.1", int(sys.argv[1])))
print(s.recv(2048).decode())
PY
	assert_output "after"
	kill -TERM "$EPID"
	echo_exit || fail "udp_echo exited with status $?"
	run cat "$out"
	assert_line "udp_echo: 1 dropped"
}
