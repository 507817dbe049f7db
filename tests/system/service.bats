#!/usr/bin/env bats
# weftd.service and weftd.socket under a real systemd: each test boots a
# fresh box with `make install` (PREFIX=/usr/local) copied in, and drives
# it with systemctl and journalctl from inside.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/box'

TOP="$BATS_TEST_DIRNAME/../.."
BUILD="$TOP/build"

setup() {
	NAME="service-$BATS_TEST_NUMBER"
	box_up "$NAME"
	make -s --no-print-directory -C "$TOP" install DESTDIR="$BOX" >/dev/null
	install -D -m 755 "$BUILD/tests/system/sleepy" \
	    "$BOX/usr/local/libexec/weft-test/sleepy"
	CONF="$BOX/etc/weft/weftd.conf"
	box_boot "$NAME"
}

teardown() { box_down "$NAME"; }

prop() { box_in systemctl show -p "$1" --value weftd; }
workers() { box_in pgrep -c -P "$(prop MainPID)"; }
# The journal of the unit, message text only.
journal() { box_in journalctl -u weftd -o cat --no-pager "$@"; }
drop_in() {
	mkdir -p "$BOX/etc/systemd/system/weftd.service.d"
	printf '[Service]\n%s\n' "$1" >"$BOX/etc/systemd/system/weftd.service.d/test.conf"
	box_in systemctl daemon-reload
}

@test "systemctl enable --now weftd: active once READY=1 came, and it answers" {
	run box_in systemctl enable --now weftd
	assert_success
	# Type=notify: the start job finished only because READY=1 arrived.
	run box_in systemctl show weftd -p Type -p ActiveState -p SubState -p StatusText
	assert_line "Type=notify"
	assert_line "ActiveState=active"
	assert_line "SubState=running"
	assert_line --regexp "^StatusText=0 connections, 0 requests served, 4/4 workers"
	run box_in systemctl is-enabled weftd
	assert_output "enabled"
	run box_in sh -c 'echo hello | weft-cat 127.0.0.1:7000'
	assert_success
	assert_output "hello"
}

@test "weftctl reaches the service as root: status with every worker's memory, reload, resize" {
	box_in systemctl start weftd
	box_wait '[ "$(workers)" -eq 4 ]'
	run box_in stat -c %a /run/weft/control.sock
	assert_output 600
	run box_in weftctl status
	assert_success
	assert_line --regexp "^weftd [0-9.]+, pid $(prop MainPID), up [0-9]+s; ready$"
	assert_line --partial "config /etc/weft/weftd.conf, loaded "
	# RSS known for each of the 4 workers, under ProtectProc=invisible.
	[ "$(echo "$output" | grep -cE '^  [0-9]+ +idle +[0-9]+ +- +[0-9.]+[kMG] ')" = 4 ] ||
		fail "not 4 workers with their memory: $output"
	run box_in weftctl reload
	assert_success
	assert_output "reloaded /etc/weft/weftd.conf"
	run box_in weftctl pool default workers 2
	assert_success
	box_wait '[ "$(workers)" -eq 2 ]'
	run box_in sh -c 'echo still | weft-cat 127.0.0.1:7000'
	assert_output "still"
}

@test "journalctl -u weftd shows weftd's syslog lines" {
	box_in systemctl start weftd
	box_wait 'journal _TRANSPORT=syslog | grep -q "^ready: "'
	run journal _TRANSPORT=syslog
	assert_line "listening on 127.0.0.1:7000"
	assert_line "ready: $(auto_io_threads) IO threads, 4 workers of /usr/local/libexec/weft/echo"
	assert_line --regexp "^worker [0-9]+ started$"
	run box_in journalctl -u weftd _TRANSPORT=syslog -o verbose --no-pager
	assert_line --partial "SYSLOG_IDENTIFIER=weftd"
	assert_line --partial "SYSLOG_FACILITY=3"
}

@test "systemctl reload applies a new worker count, and the status is fresh" {
	box_in systemctl start weftd
	pid=$(prop MainPID)
	box_wait '[ "$(workers)" -eq 4 ]'
	sed -i 's/^\tworkers = 4$/\tworkers = 3/' "$CONF"
	run box_in systemctl reload weftd
	assert_success
	box_wait '[ "$(workers)" -eq 3 ]'
	assert_equal "$(prop MainPID)" "$pid"
	box_wait '[ "$(prop ActiveState)" = active ]'
	# READY=1 ends the reload with a STATUS of its own: no lingering
	# "reloading" until the next periodic one.
	run prop StatusText
	refute_output --partial "reloading"
	assert_output --partial "workers"
	run box_in sh -c 'echo after | weft-cat 127.0.0.1:7000'
	assert_output "after"
}

@test "a broken config fails systemctl reload; the old one keeps serving" {
	box_in systemctl start weftd
	pid=$(prop MainPID)
	box_wait '[ "$(workers)" -eq 4 ]'
	sed -i 's/^\tworkers = 4$/\tworkers = 2/' "$CONF"
	echo "io_threads = many" >>"$CONF"
	run box_in systemctl reload weftd
	assert_failure
	run journal
	assert_line --regexp "^weftd: /etc/weft/weftd.conf:[0-9]+: .*io_threads"
	assert_equal "$(prop MainPID)" "$pid"
	assert_equal "$(prop ActiveState)" "active"
	assert_equal "$(workers)" 4
	run box_in sh -c 'echo still | weft-cat 127.0.0.1:7000'
	assert_output "still"
}

@test "systemctl stop answers the slow requests in flight, exits 0, empties the cgroup" {
	sed -i 's|^\tcommand = .*|\tcommand = { "/usr/local/libexec/weft-test/sleepy" }|' "$CONF"
	# systemd forgets the exit status once the unit is inactive: keep it
	# ('+': outside the sandbox, which cannot write /run).
	drop_in 'ExecStopPost=+/bin/sh -c "echo $EXIT_CODE $EXIT_STATUS >/run/weftd-exit"'
	box_in systemctl start weftd
	cgroup=$(prop ControlGroup)
	[ -n "$cgroup" ]
	clients=
	for i in 1 2 3 4; do
		box_in sh -c 'echo sleep:1500 | weft-cat 127.0.0.1:7000' \
		    >"$BATS_TEST_TMPDIR/c$i" 2>&1 3>&- &
		clients="$clients $!"
	done
	# Each worker says so in the journal once its request is running.
	box_wait '[ "$(journal | grep -c "sleeping 1500")" -eq 4 ]'
	run box_in systemctl stop weftd
	assert_success
	wait $clients
	for i in 1 2 3 4; do
		run cat "$BATS_TEST_TMPDIR/c$i"
		assert_output "sleep:1500"
	done
	run box_in systemctl show weftd -p ActiveState -p Result
	assert_line "ActiveState=inactive"
	assert_line "Result=success"
	run box_in cat /run/weftd-exit
	assert_output "exited 0"
	run box_in sh -c "cat /sys/fs/cgroup$cgroup/cgroup.procs 2>/dev/null"
	assert_output ""
	run box_in pgrep -f "weftd|sleepy"
	assert_failure
}

@test "with the pool-users drop-in, weftd runs as its user and each pool's handlers as theirs" {
	mkdir -p "$BOX/etc/systemd/system/weftd.service.d"
	cp "$TOP/systemd/weftd-pool-users.conf" \
	    "$BOX/etc/systemd/system/weftd.service.d/pool-users.conf"
	box_in systemctl daemon-reload
	# weftd drops to nobody; default's handlers run as daemon, b's as bin.
	sed -i 's|^\tworkers = 4$|\tworkers = 2\n\tuser = "daemon"|' "$CONF"
	sed -i '1i user = "nobody"' "$CONF"
	cat >>"$CONF" <<-END
	pool "b" {
	  command = { "/usr/local/libexec/weft/echo" }
	  workers = 1
	  listen = { "127.0.0.1:7001" }
	  user = "bin"
	  rlimit_nofile = 256
	}
	END
	run box_in systemctl start weftd
	assert_success
	main=$(prop MainPID)
	sp=$(box_in pgrep -P "$main" -x weftd-spawner)
	uid() { box_in sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
	assert_equal "$(uid "$main")" "$(box_in id -u nobody)"
	assert_equal "$(uid "$sp")" 0
	box_wait '[ "$(box_in pgrep -c -P "$sp")" -eq 3 ]'
	ids=
	for w in $(box_in pgrep -P "$sp"); do ids="$ids $(uid "$w")"; done
	run bash -c "printf '%s\\n' $ids | sort | uniq -c | tr -s ' '"
	assert_line " 2 $(box_in id -u daemon)"
	assert_line " 1 $(box_in id -u bin)"
	b=$(box_in pgrep -P "$sp" -u bin)
	run box_in grep 'Max open files' "/proc/$b/limits"
	assert_output --regexp '^Max open files +256 +256 +files *$'
	run box_in sh -c 'echo one | weft-cat 127.0.0.1:7000; echo two | weft-cat 127.0.0.1:7001'
	assert_output "$(printf 'one\ntwo')"
	run box_in systemctl stop weftd
	assert_success
	run box_in systemctl show weftd -p Result
	assert_output "Result=success"
	run box_in pgrep -f "weftd|libexec/weft/echo"
	assert_failure
}

@test "weftd.socket starts the service on the first connection, which is answered" {
	run box_in systemctl start weftd.socket
	assert_success
	run box_in systemctl is-active weftd.service
	assert_output "inactive"
	run box_in sh -c 'echo activated | weft-cat 127.0.0.1:7000'
	assert_success
	assert_output "activated"
	assert_equal "$(prop ActiveState)" "active"
	run journal
	assert_line "listening on 127.0.0.1:7000 (from systemd)"
	assert_line --partial "socket activation: 1 sockets from systemd"
}

@test "the watchdog keeps the service alive over 3 watchdog periods" {
	drop_in "WatchdogSec=1s"
	box_in systemctl start weftd
	pid=$(prop MainPID)
	t0=$(prop WatchdogTimestampMonotonic)
	# systemd moves WatchdogTimestamp at every WATCHDOG=1 it accepts.
	box_wait '[ $(($(prop WatchdogTimestampMonotonic) - t0)) -ge 3000000 ]' 10
	run box_in systemctl show weftd -p ActiveState -p NRestarts -p MainPID -p WatchdogUSec
	assert_line "ActiveState=active"
	assert_line "NRestarts=0"
	assert_line "MainPID=$pid"
	assert_line "WatchdogUSec=1s"
	run journal
	assert_line "watchdog: pinging systemd every 500 ms"
}

@test "a Unix listener under the unit admits its group and no one else" {
	box_in groupadd weftclients
	box_in useradd -G weftclients alice
	box_in useradd bob
	# weftd's dynamic user keeps its own uid; Group= gives it this group.
	drop_in "Group=weftclients"
	sed -i 's|^listen = .*|listen = { "127.0.0.1:7000", "unix:/run/weft/weftd.sock" }|' "$CONF"
	box_in systemctl start weftd
	run box_in stat -c '%A %G' /run/weft/weftd.sock
	assert_output "srw-rw---- weftclients"
	run box_in su alice -s /bin/sh -c 'echo alice | weft-cat unix:/run/weft/weftd.sock'
	assert_success
	assert_output "alice"
	run box_in su bob -s /bin/sh -c 'echo bob | weft-cat unix:/run/weft/weftd.sock'
	assert_failure 2
	assert_output --partial "Permission denied"
}

@test "systemd-analyze security on the running unit scores what the README says" {
	box_in systemctl start weftd
	run box_in systemd-analyze security weftd --no-pager
	assert_success
	level=$(echo "$output" | sed -n 's/.*exposure level for weftd.service: \([0-9.]*\).*/\1/p')
	echo "# systemd-analyze security weftd (running unit): exposure $level" >&3
	readme=$(tr '\n' ' ' <"$TOP/README.md" |
	    sed -n 's/.*exposure \([0-9.]*\) on the running unit.*/\1/p')
	assert_equal "$level" "$readme"
}
