#!/usr/bin/env bats
# weftd as a service: make install / uninstall, the installed tree, the
# systemd units, socket activation, the watchdog, reload, make run.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() {
	weftd_teardown
	if [ -n "${SPID:-}" ]; then
		kill -KILL "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
}

# Install for real (no DESTDIR) under a prefix of our own, so the paths
# baked into weftd, the config and the unit exist.
install_tree() {
	ROOT="$BATS_TEST_TMPDIR/root"
	run make -s --no-print-directory -C "$TOP" install PREFIX="$ROOT/usr" \
	    SYSCONFDIR="$ROOT/etc" UNITDIR="$ROOT/units"
	assert_success
}

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Each READY=1 (start, and the end of the reload) comes in one message with
# a STATUS that no longer says "reloading".
ready_has_fresh_status() {
	run awk -v RS= '/READY=1/ { n++; if (!/STATUS=/ || /reloading/) bad++ }
	    END { print n " ready, " bad + 0 " without a fresh status" }' "$NLOG"
	assert_output "2 ready, 0 without a fresh status"
}

@test "make install puts every file in place with the installed paths inside" {
	DEST="$BATS_TEST_TMPDIR/dest"
	run make -s --no-print-directory -C "$TOP" install DESTDIR="$DEST"
	assert_success
	for f in usr/local/sbin/weftd usr/local/bin/weft-cat \
	    usr/local/libexec/weft/echo usr/local/libexec/weft/echo.py \
	    etc/weft/weftd.conf lib/systemd/system/weftd.service \
	    lib/systemd/system/weftd.socket usr/local/lib/libweft.so.0 \
	    usr/local/lib/pkgconfig/weft.pc usr/local/include/weft/handler.h \
	    usr/local/share/man/man8/weftd.8 usr/local/share/man/man5/weftd.conf.5 \
	    usr/local/share/man/man1/weft-cat.1 usr/local/share/man/man3/libweft.3 \
	    usr/local/share/man/man7/weft-protocol.7; do
		[ -e "$DEST/$f" ] || fail "missing $f"
	done
	run grep -F 'command = { "/usr/local/libexec/weft/echo" }' "$DEST/etc/weft/weftd.conf"
	assert_success
	run grep '^Exec' "$DEST/lib/systemd/system/weftd.service"
	assert_line "ExecStart=/usr/local/sbin/weftd -c /etc/weft/weftd.conf"
	assert_line "ExecStartPre=/usr/local/sbin/weftd -t -c /etc/weft/weftd.conf"
	run "$DEST/usr/local/sbin/weftd" -h
	assert_output --partial "(default /etc/weft/weftd.conf)"
}

@test "an edited config survives reinstall and uninstall; uninstall removes the rest" {
	DEST="$BATS_TEST_TMPDIR/dest"
	make -s --no-print-directory -C "$TOP" install DESTDIR="$DEST" >/dev/null
	echo "# edited" >>"$DEST/etc/weft/weftd.conf"
	make -s --no-print-directory -C "$TOP" install DESTDIR="$DEST" >/dev/null
	run tail -n 1 "$DEST/etc/weft/weftd.conf"
	assert_output "# edited"
	# A shared LIBEXECDIR or INCLUDEDIR keeps what is not ours.
	touch "$DEST/usr/local/libexec/weft/theirs" "$DEST/usr/local/include/weft/theirs.h"
	make -s --no-print-directory -C "$TOP" uninstall DESTDIR="$DEST" >/dev/null
	run sh -c "cd '$DEST' && find . -type f | sort"
	assert_output "./etc/weft/weftd.conf
./usr/local/include/weft/theirs.h
./usr/local/libexec/weft/theirs"
}

@test "the installed weftd runs with its installed config and answers" {
	install_tree
	# The installed config, on a kernel-chosen port; weftd finds it alone.
	sed -i 's|^listen = .*|listen = { "127.0.0.1:0" }|' "$ROOT/etc/weft/weftd.conf"
	WEFTD="$ROOT/usr/sbin/weftd"
	CONF="$ROOT/etc/weft/weftd.conf"
	start_weftd
	grep -q "workers of $ROOT/usr/libexec/weft/echo" "$LOG"
	run sh -c "echo installed | timeout 10 '$ROOT/usr/bin/weft-cat' $ADDR"
	assert_success
	assert_output "installed"
}

@test "systemd-analyze verify prints nothing on the units" {
	install_tree
	run env MANPATH="$ROOT/usr/share/man" systemd-analyze verify \
	    "$ROOT/units/weftd.service" "$ROOT/units/weftd.socket"
	assert_success
	assert_output ""
}

@test "the unit's offline exposure (systemd-analyze security) is what the README says" {
	install_tree
	run systemd-analyze security --offline=yes "$ROOT/units/weftd.service"
	level=$(echo "$output" | sed -n 's/.*exposure level for weftd.service: \([0-9.]*\).*/\1/p')
	echo "# exposure (offline): $level" >&3
	readme=$(tr '\n' ' ' <"$TOP/README.md" | sed -n 's/.*(\([0-9.]*\) offline).*/\1/p')
	assert_equal "$level" "$readme"
}

@test "socket activation serves requests; workers see no LISTEN_* or NOTIFY_SOCKET" {
	write_conf "$PY_HANDLER" 1
	# The configured address is not used: systemd's socket is.
	sed -i 's|^listen = .*|listen = { "127.0.0.1:1" }|' "$CONF"
	port=$(free_port)
	LOG="$BATS_TEST_TMPDIR/sa.log"
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/none.sock" systemd-socket-activate \
	    -l "127.0.0.1:$port" "$WEFTD" -f -c "$CONF" >"$LOG" 2>&1 &
	SPID=$!
	wait_for grep -q "Listening on" "$LOG"
	run $CLIENT "127.0.0.1:$port" send "activated" env
	assert_success
	assert_line --index 0 "0 activated"
	refute_output --partial "LISTEN_"
	refute_output --partial "NOTIFY_SOCKET"
	grep -q "listening on 127.0.0.1:$port (from systemd)" "$LOG"
}

@test "watchdog pings arrive at half of WATCHDOG_USEC" {
	write_conf
	export WATCHDOG_USEC=200000
	start_weftd
	unset WATCHDOG_USEC
	wait_for sh -c "[ \$(grep -c '^WATCHDOG=1' '$NLOG') -ge 4 ]"
	grep -q "watchdog: pinging systemd every 100 ms" "$LOG"
}

@test "SIGHUP reloads the handler section, RELOADING then READY; busy work finishes" {
	write_conf "$PY_HANDLER" 1
	start_weftd
	$CLIENT "$ADDR" send "sleep:1" >"$BATS_TEST_TMPDIR/busy" &
	wait_for grep -q ": sleeping" "$LOG"
	sed -i 's/workers = 1/workers = 3/; s/^\(\s*\)workers/\1env = { "GEN=2" }\n&/' "$CONF"
	sed -i 's/^io_threads = 2/io_threads = 3/' "$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "reload: 3 workers" "$LOG"
	grep -q "reload: io_threads changed: takes effect when weftd is restarted" "$LOG"
	wait_for grep -q closed "$BATS_TEST_TMPDIR/busy"
	run cat "$BATS_TEST_TMPDIR/busy"
	assert_line --index 0 "0 sleep:1"
	wait_for sh -c "[ \$(pgrep -P $WPID | wc -l) -eq 3 ]"
	run $CLIENT "$ADDR" send env
	assert_output --partial "GEN=2"
	run grep -n -e '^RELOADING=1' -e '^MONOTONIC_USEC=' -e '^READY=1' "$NLOG"
	assert_line --index 1 --regexp '^[0-9]+:RELOADING=1'
	assert_line --index 2 --regexp '^[0-9]+:MONOTONIC_USEC=[0-9]+'
	assert_line --index 3 --regexp '^[0-9]+:READY=1'
	ready_has_fresh_status
}

@test "a bad config on SIGHUP is logged with file:line and weftd keeps serving" {
	write_conf
	start_weftd
	echo "io_threads = many" >>"$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "keeping the running configuration" "$LOG"
	run grep "reload:" "$LOG"
	assert_output --partial "$CONF:"
	run sh -c "echo still | timeout 10 '$CAT' $ADDR"
	assert_output "still"
	ready_has_fresh_status
}

@test "make run starts weftd in the foreground and says how to talk to it" {
	LOG="$BATS_TEST_TMPDIR/run.log"
	WEFT_LISTEN=127.0.0.1:0 make -s --no-print-directory -C "$TOP" run >"$LOG" 2>&1 &
	SPID=$!
	wait_for grep -q "ready:" "$LOG"
	grep -q "echo hello | .*weft-cat 127.0.0.1:0" "$LOG"
	ADDR=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$LOG")
	run sh -c "echo hello | timeout 10 '$TOP/build/weft-cat' $ADDR"
	assert_output "hello"
	# weftd runs under make; make exits 0 only if weftd did.
	kill -TERM "$(pgrep -f "build/run/weftd.conf" | head -n 1)"
	wait "$SPID"
	SPID=
	grep -q "stopped" "$LOG"
}
