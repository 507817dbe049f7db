#!/usr/bin/env bats
# weftd -t checks a configuration; a bad one stops weftd with file:line.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

# bad_conf LINE...: a valid config with the given lines added at line 2+.
bad_conf() {
	CONF="$BATS_TEST_TMPDIR/bad.conf"
	{
		echo "# weftd.conf with a mistake"
		printf '%s\n' "$@"
		echo "handler {"
		echo "  command = { \"$C_ECHO\" }"
		echo "}"
	} >"$CONF"
}

@test "-t accepts a good configuration" {
	write_conf
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_success
	assert_output "weftd: $CONF: configuration OK"
}

@test "an unknown key fails with file:line" {
	bad_conf 'io_threads = 2' 'max_conections = 10'
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --regexp "^weftd: $CONF:3: .*max_conections"
}

@test "a negative number fails with file:line and the range" {
	bad_conf 'io_threads = -1'
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:2: io_threads: -1 is out of range 1..256"
}

@test "a bad address fails with file:line" {
	bad_conf 'listen = { "127.0.0.1:7000", "localhost:http" }'
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "$CONF:2: listen: \"localhost:http\" is not HOST:PORT"
}

@test "a bad duration and a bad size fail with file:line" {
	bad_conf 'idle_timeout = 5min'
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "$CONF:2: idle_timeout"
	bad_conf '' 'max_frame = 2g'
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "$CONF:3: max_frame: \"2g\" is not a size"
}

@test "a missing file fails and names it" {
	run timeout 10 "$WEFTD" -t -c "$BATS_TEST_TMPDIR/nope.conf"
	assert_failure 1
	assert_output "weftd: $BATS_TEST_TMPDIR/nope.conf: No such file or directory"
}

@test "a handler that is not executable fails -t" {
	write_conf "\"$BATS_TEST_TMPDIR/missing-handler\""
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:7: handler command $BATS_TEST_TMPDIR/missing-handler: No such file or directory"
}

@test "a bad configuration stops weftd itself the same way" {
	bad_conf 'io_threads = 0'
	run timeout 10 "$WEFTD" -f -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:2: io_threads: 0 is out of range 1..256"
}

@test "an address in use stops weftd with the reason" {
	write_conf
	start_weftd
	first=$ADDR
	sed -i "s|^listen = .*|listen = { \"$first\" }|" "$CONF"
	run timeout 10 "$WEFTD" -f -c "$CONF"
	assert_failure 1
	assert_output --partial "listen $first: Address already in use"
	weftd_teardown
}

@test "bad options print usage and exit 2" {
	run timeout 10 "$WEFTD" -x
	assert_failure 2
	assert_output --partial "usage: weftd"
}
