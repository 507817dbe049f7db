#!/usr/bin/env bats
# Several pools in one weftd: routing by listener and by route id, in-order
# answers across pools, isolation, reload adding and removing pools, the
# checks of -t, users and limits per pool, and the top-level privilege drop.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() {
	weftd_teardown
	[ -z "${SLOW:-}" ] || kill "$SLOW" 2>/dev/null || true
}

# pool NAME WORKERS EXTRA: a pool of the Python handler, its env naming it.
pool() {
	cat <<-END
	pool "$1" {
	  command = { $PY_HANDLER }
	  workers = $2
	  env = { "POOL=$1" }
	  $3
	}
	END
}

# two_pools [EXTRA-TOP] [EXTRA-FAST]: default (1 worker) and "fast" with
# a listener of its own and routes 7 and 8.
two_pools() {
	CONF="$BATS_TEST_TMPDIR/weftd.conf"
	{
		cat <<-END
		listen = { "127.0.0.1:0" }
		io_threads = 2
		shutdown_timeout = 10s
		${1:-}
		END
		pool default 1 "queue_limit = 4"
		pool fast 2 "listen = { \"127.0.0.1:0\" }
		  routes = { 7, 8 }
		  ${2:-}"
	} >"$CONF"
}

# The address weftd logged for pool NAME's listener.
addr_of() {
	sed -n "s/.*listening on \([^ ]*\) for pool $1\$/\1/p" "$LOG" | tail -n 1
}

@test "each listener delivers to its pool; route 0 means the listener's" {
	two_pools
	start_weftd
	FAST=$(addr_of fast)
	[ -n "$FAST" ]
	grep -q "notice: ready: 1 workers of $PYTHON$" "$LOG"
	grep -q "notice: pool fast: ready: 2 workers of $PYTHON$" "$LOG"
	grep -q "notice: ready: 2 IO threads, 3 workers in 2 pools$" "$LOG"
	run $CLIENT "$ADDR" route 0:who:a
	assert_success
	assert_output "0 default route=0 uid=$(id -u) gid=$(id -g) a"
	run $CLIENT "$FAST" route 0:who:b
	assert_success
	assert_output "0 fast route=0 uid=$(id -u) gid=$(id -g) b"
}

@test "a route id picks its pool whatever the listener; an unclaimed one is 'no such route'" {
	two_pools
	start_weftd
	run $CLIENT "$ADDR" route 7:who:a 9:who:b 8:who:c 0:who:d
	assert_success
	assert_line --index 0 --partial "0 fast route=7 "
	assert_line --index 1 "6 no such route: 9"
	# The connection stays open: what follows is answered.
	assert_line --index 2 --partial "0 fast route=8 "
	assert_line --index 3 --partial "0 default route=0 "
	run $CLIENT "$(addr_of fast)" route 0:x 65535:y
	assert_line --index 1 "6 no such route: 65535"
}

@test "one connection's requests to several pools are answered in order" {
	two_pools
	start_weftd
	run $CLIENT "$ADDR" route 0:sleep:0.5 7:one 0:two 8:three 7:sleep:0.2 0:four
	assert_success
	assert_output "$(printf '%s\n' '0 sleep:0.5' '0 one' '0 two' '0 three' \
	    '0 sleep:0.2' '0 four')"
}

# A slow pool, its worker busy and its queue full, does not delay another.
@test "a saturated pool does not slow another: the fast pool's p99 with and without" {
	two_pools
	start_weftd
	FAST=$(addr_of fast)
	run timeout 60 "$PYTHON" "$HELPERS/latency.py" "$FAST" 300
	assert_success
	idle=$output
	# The default pool: 1 worker asleep, 4 queued, the rest overloaded.
	SENT_FILE="$BATS_TEST_TMPDIR/sent" $CLIENT "$ADDR" send sleep:4 \
	    sleep:4 sleep:4 sleep:4 sleep:4 x x x >"$BATS_TEST_TMPDIR/slow.out" &
	SLOW=$!
	wait_for test -f "$BATS_TEST_TMPDIR/sent"
	wait_for grep -q "sleeping" "$LOG"
	run timeout 60 "$PYTHON" "$HELPERS/latency.py" "$FAST" 300
	assert_success
	busy=$output
	# Every fast request was answered while the slow pool's first still ran.
	kill -0 "$SLOW"
	[ ! -s "$BATS_TEST_TMPDIR/slow.out" ]
	echo "# fast pool, 300 requests: idle neighbour: $idle; saturated neighbour: $busy" >&3
	# On the same connection: only in-order delivery waits.
	run $CLIENT "$ADDR" route 7:a
	assert_output --partial "0 a"
	kill "$SLOW" 2>/dev/null || true
	SLOW=
}

@test "weftd -t: routes, listeners and names claimed twice, unreachable pools, users" {
	CONF="$BATS_TEST_TMPDIR/weftd.conf"
	{ pool a 1 "routes = { 1, 2 }"; pool b 1 "routes = { 3, 2 }"; } >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:11: routes: 2 is pool \"a\"'s already (line 5)"
	{ pool a 1 "listen = { \"127.0.0.1:7009\" }"
	  pool b 1 "listen = { \"*:7010\", \"0.0.0.0:7010\" }"; } >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:11: listen: *:7010 is listed twice"
	{ pool a 1 "routes = { 1 }"; pool a 1 "routes = { 2 }"; } >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "duplicate title 'a'"
	pool lost 1 "" >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:2: pool \"lost\" has neither listen nor routes: no request could reach it"
	pool a 1 "routes = { 1 }
	  user = \"no-such-user-here\"" >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:6: user: no such user \"no-such-user-here\""
	{ echo 'listen = { "127.0.0.1:7011" }'; pool a 1 "routes = { 1 }"; } >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "listen: the top-level addresses go to pool \"default\""
	{ pool default 1 ""; pool b 1 "routes = { 0 }"; } >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "routes: 0 is not a route id 1..65535"
}

@test "a pool's handlers get its rlimit_nofile and rlimit_as" {
	two_pools "" "rlimit_nofile = 123
	  rlimit_as = 3g"
	start_weftd
	run $CLIENT "$ADDR" route 7:limits 0:limits
	assert_success
	assert_line --index 0 "0 nofile=123 as=3221225472"
	refute_line --index 1 "0 nofile=123 as=3221225472"
}

@test "SIGHUP adds and removes pools under load; no request is lost" {
	two_pools
	start_weftd
	FAST=$(addr_of fast)
	# Load on both pools, through the reload: every request is answered,
	# those for the removed pool after it went with `no such route`.
	run_load() {
		READY_FILE="$2.on" timeout 60 "$PYTHON" "$HELPERS/latency.py" \
		    "$1" 2000 6 >"$2" 2>&1
	}
	run_load "$ADDR" "$BATS_TEST_TMPDIR/load1" &
	L1=$!
	run_load "$FAST" "$BATS_TEST_TMPDIR/load2" &
	L2=$!
	wait_for test -f "$BATS_TEST_TMPDIR/load1.on"
	wait_for test -f "$BATS_TEST_TMPDIR/load2.on"
	# "fast" goes, "extra" comes with its own listener and route 7.
	{
		echo 'listen = { "127.0.0.1:0" }'
		echo 'io_threads = 2'
		pool default 1 "queue_limit = 4"
		pool extra 1 "listen = { \"127.0.0.1:0\" }
		  routes = { 7 }"
	} >"$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "reload: pool fast removed" "$LOG"
	wait_for grep -q "listening on .* for pool extra" "$LOG"
	wait "$L1"
	wait "$L2" || { cat "$BATS_TEST_TMPDIR/load2"; false; }
	# Every request of both was answered, the removed pool's included.
	grep -q "^p50=" "$BATS_TEST_TMPDIR/load1"
	grep -q "^6: 0$" "$BATS_TEST_TMPDIR/load1"
	grep -q "^p50=" "$BATS_TEST_TMPDIR/load2"
	run $CLIENT "$(addr_of extra)" route 0:who:x 7:who:y 8:who:z
	assert_line --index 0 --partial "0 extra route=0"
	assert_line --index 1 --partial "0 extra route=7"
	assert_line --index 2 "6 no such route: 8"
	wait_for grep -q "pool fast: removed" "$LOG"
	# Its listener is closed; its workers are gone.
	run timeout 5 "$PYTHON" -c "import socket,sys; h,p='$FAST'.rsplit(':',1); socket.create_connection((h,int(p)),2)"
	assert_failure
	wait_for sh -c "! grep -q 'POOL=fast' /proc/$WPID/task/*/children 2>/dev/null"
	run $CLIENT "$ADDR" route 0:who:d
	assert_output --partial "0 default route=0"
}

@test "a reload that cannot bind a new listener changes nothing" {
	two_pools
	start_weftd
	"$PYTHON" -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); open('$BATS_TEST_TMPDIR/port','w').write(str(s.getsockname()[1])); time.sleep(30)" &
	HOLD=$!
	wait_for test -s "$BATS_TEST_TMPDIR/port"
	{
		echo 'listen = { "127.0.0.1:0" }'
		pool default 1 ""
		pool other 1 "listen = { \"127.0.0.1:$(cat "$BATS_TEST_TMPDIR/port")\" }"
	} >"$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "reload: could not set up the new pools and listeners; keeping the running configuration" "$LOG"
	kill "$HOLD"
	run $CLIENT "$ADDR" route 7:who:a
	assert_output --partial "0 fast route=7"
	run $CLIENT "$(addr_of fast)" route 0:who:b
	assert_output --partial "0 fast route=0"
}

# Let other users (weftd after its drop) reach this test's files: the
# config, the notify socket.
open_tmpdir() {
	local d=$BATS_TEST_TMPDIR
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod a+rx "$d"
		d=$(dirname "$d")
	done
	chmod a+r "$CONF"
}

# The spawner: weftd's child named weftd-spawner.
spawner_of() {
	pgrep -P "$1" -x weftd-spawner
}

# /proc/PID/status's Uid or Gid line: real, effective, saved, fs.
ids_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' '
}

@test "started as root with user, weftd drops to it after binding; its handlers too" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools 'user = "nobody"
	  listen = { "127.0.0.1:0", "127.0.0.1:1023" }'
	open_tmpdir
	start_weftd
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	assert_equal "$(ids_of "$WPID" Uid)" "$uid $uid $uid $uid"
	assert_equal "$(ids_of "$WPID" Gid)" "$gid $gid $gid $gid"
	grep -q "running as user nobody (uid $uid, gid $gid)" "$LOG"
	grep -q "listening on 127.0.0.1:1023" "$LOG"
	# Handlers come from the spawner, which alone stays root.
	SP=$(spawner_of "$WPID")
	assert_equal "$(children)" "$SP"
	assert_equal "$(ids_of "$SP" Uid)" "0 0 0 0"
	assert_equal "$(pgrep -P "$SP" | wc -l)" 3
	for w in $(pgrep -P "$SP"); do
		assert_equal "$(ids_of "$w" Uid)" "$uid $uid $uid $uid"
	done
	# Not dumpable: handlers of its own user cannot read it; signal, yes.
	grep -q "pool fast: handlers run as weftd's user nobody and could signal it" "$LOG"
	run $CLIENT "$ADDR" route "7:peek:$WPID"
	assert_output "0 EACCES"
	run $CLIENT "$ADDR" route 0:who:a
	assert_output "0 default route=0 uid=$uid gid=$gid a"
	# weftd killed outright: the spawner dies with it, the handlers too,
	# a busy one (which would see its socket close only after 60 s) too.
	$CLIENT "$ADDR" send "sleep:60" >/dev/null 2>&1 &
	SLOW=$!
	wait_for grep -q "sleeping" "$LOG"
	workers=$(pgrep -P "$SP")
	kill -KILL "$WPID"
	wait "$WPID" || true
	WPID=
	for p in $SP $workers; do
		wait_for sh -c "[ ! -e /proc/$p ] || grep -q ') Z' /proc/$p/stat"
	done
}

@test "as root without user, weftd warns once that it and its handlers run as root" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools
	start_weftd
	assert_equal "$(grep -c 'running as root' "$LOG")" 1
	grep -q "set user (and group) at the top of $CONF" "$LOG"
}

@test "not root, a user that is another one is an error at start and from -t" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to become another user"
	two_pools 'user = "daemon"'
	open_tmpdir
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF: user daemon: weftd runs as uid $(id -u nobody), not root, and cannot become another user"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    timeout 10 "$WEFTD" -f -c "$CONF"
	assert_failure 1
	assert_output --partial "cannot become another user"
}

@test "each pool's handlers run as its user and cannot signal or read weftd or another pool" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools "" 'user = "nobody"'
	sed -i 's/workers = 1/workers = 1\n  user = "daemon"/' "$CONF"
	open_tmpdir
	start_weftd
	nobody=$(id -u nobody)
	daemon=$(id -u daemon)
	run $CLIENT "$ADDR" route 7:who:a 0:who:b 0:pid
	assert_line --index 0 "0 fast route=7 uid=$nobody gid=$(id -g nobody) a"
	assert_line --index 1 "0 default route=0 uid=$daemon gid=$(id -g daemon) b"
	other=$(echo "$output" | sed -n 3p | cut -d' ' -f2)
	assert_equal "$(ids_of "$other" Uid)" "$daemon $daemon $daemon $daemon"
	# From a handler of "fast": weftd and the default pool's worker.
	run $CLIENT "$ADDR" route "7:signal:$WPID,15" "7:signal:$other,9" \
	    "7:peek:$WPID" "7:peek:$other"
	assert_output "$(printf '%s\n' '0 EPERM' '0 EPERM' '0 EACCES' '0 EACCES')"
	kill -0 "$WPID"
	kill -0 "$other"
	# weftd killed outright: a busy handler (it would see its socket
	# close only after 60 s) dies with it, though its change of user
	# cleared the parent-death signal weftd had set.
	$CLIENT "$ADDR" send "sleep:60" >/dev/null 2>&1 &
	SLOW=$!
	wait_for grep -q "sleeping" "$LOG"
	kill -KILL "$WPID"
	wait "$WPID" || true
	WPID=
	wait_for sh -c "[ ! -e /proc/$other ] || grep -q ') Z' /proc/$other/stat"
}

@test "weftd drops to its user; a root spawner starts each pool's handlers as theirs, and nothing they try reaches weftd, the spawner or another pool" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools 'user = "nobody"' 'user = "bin"'
	sed -i 's/workers = 1/workers = 1\n  user = "daemon"/' "$CONF"
	open_tmpdir
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_success
	start_weftd
	nobody=$(id -u nobody)
	daemon=$(id -u daemon)
	bin=$(id -u bin)
	SP=$(spawner_of "$WPID")
	assert_equal "$(ids_of "$WPID" Uid)" "$nobody $nobody $nobody $nobody"
	assert_equal "$(ids_of "$SP" Uid)" "0 0 0 0"
	# The handlers are the spawner's children, not weftd's.
	assert_equal "$(children)" "$SP"
	run $CLIENT "$ADDR" route 7:who:a 0:who:b 0:pid 7:pid
	assert_line --index 0 "0 fast route=7 uid=$bin gid=$(id -g bin) a"
	assert_line --index 1 "0 default route=0 uid=$daemon gid=$(id -g daemon) b"
	other=$(echo "$output" | sed -n 3p | cut -d' ' -f2)
	fast=$(echo "$output" | sed -n 4p | cut -d' ' -f2)
	assert_equal "$(ps -o ppid= -p "$other" | tr -d ' ')" "$SP"
	assert_equal "$(ids_of "$other" Uid)" "$daemon $daemon $daemon $daemon"
	assert_equal "$(ids_of "$fast" Uid)" "$bin $bin $bin $bin"
	# From a handler of "fast": weftd, the spawner, default's worker.
	run $CLIENT "$ADDR" route "7:signal:$WPID,15" "7:signal:$SP,9" \
	    "7:signal:$other,9" "7:peek:$WPID" "7:peek:$SP" "7:peek:$other"
	assert_output "$(printf '0 %s\n' EPERM EPERM EPERM EACCES EACCES EACCES)"
	kill -0 "$WPID" "$SP" "$other"
	# A worker's exit comes through the spawner: logged, and replaced.
	kill -KILL "$fast"
	wait_for grep -q "worker $fast killed by signal 9" "$LOG"
	run $CLIENT "$ADDR" route 7:who:again
	assert_output "0 fast route=7 uid=$bin gid=$(id -g bin) again"
	# A reload adds a pool as yet another user; the spawner read it too.
	cat >>"$CONF" <<-END
	pool "third" {
	  command = { $PY_HANDLER }
	  workers = 1
	  env = { "POOL=third" }
	  routes = { 9 }
	  user = "sys"
	}
	END
	kill -HUP "$WPID"
	wait_for grep -q "pool third: worker .* started" "$LOG"
	run $CLIENT "$ADDR" route 9:who:c
	assert_output "0 third route=9 uid=$(id -u sys) gid=$(id -g sys) c"
	# Stopped, weftd takes the spawner and every handler with it.
	kill -TERM "$WPID"
	wait "$WPID"
	run pgrep -P "$SP"
	assert_failure
	run kill -0 "$SP"
	assert_failure
}

@test "under the spawner weftctl shows each worker's memory, and a resize stops at the file's size" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools "user = \"nobody\"
	control = \"unix:$BATS_TEST_TMPDIR/ctl.sock\"" 'user = "bin"'
	open_tmpdir
	start_weftd
	ctl() { timeout 30 "$BUILD/weftctl" -s "$BATS_TEST_TMPDIR/ctl.sock" "$@"; }
	# Its own user may use it, and root; nobody else.
	assert_equal "$(stat -c '%U %a' "$BATS_TEST_TMPDIR/ctl.sock")" "nobody 600"
	# The memory of another user's worker: from the statm the spawner
	# opened before the worker changed user.
	run sh -c "timeout 30 '$BUILD/weftctl' -s '$BATS_TEST_TMPDIR/ctl.sock' status --json | $PYTHON -c \"import json, sys; j = json.load(sys.stdin); print(all(w['rss_bytes'] and w['rss_bytes'] > 1000000 for p in j['pools'] for w in p['worker_list']))\""
	assert_output True
	run ctl pool fast workers 3
	assert_failure 1
	assert_output --partial "pool fast: at most 2 workers, as the file says"
	run ctl pool fast workers 1
	assert_success
	wait_for log_has_at_least 1 "pool fast: worker [0-9]* .*(retired: resized)"
}

@test "a reload that fails after the spawner read the file leaves the spawner on the old one" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools 'user = "nobody"' 'user = "bin"'
	open_tmpdir
	start_weftd
	run $CLIENT "$ADDR" route 7:pid
	pid=$(echo "$output" | head -n 1 | cut -d' ' -f2)
	# A new environment for fast, and a port nobody may bind: it fails.
	sed -i 's/"POOL=fast"/"POOL=changed"/; s/^  listen = { "127.0.0.1:0" }$/  listen = { "127.0.0.1:0", "127.0.0.1:1022" }/' "$CONF"
	grep -q '"127.0.0.1:1022"' "$CONF"
	kill -HUP "$WPID"
	wait_for grep -q "reload: could not set up the new pools and listeners" "$LOG"
	# A replacement is started from what the spawner had before.
	kill -KILL "$pid"
	wait_for grep -q "worker $pid killed by signal 9" "$LOG"
	wait_for log_has_at_least 4 "worker [0-9]* started"
	for i in 1 2 3 4; do
		run $CLIENT "$ADDR" route 7:who:x
		assert_output "0 fast route=7 uid=$(id -u bin) gid=$(id -g bin) x"
	done
}

@test "with a spawner, -t refuses a file or a handler weftd's user could change, and root handlers" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools 'user = "nobody"' 'user = "bin"'
	open_tmpdir
	chmod o+w "$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF: weftd drops to user nobody, and the file it reads to start handlers must be root's alone (owned by root, not writable by nobody, its group or others)"
	chmod o-w "$CONF"
	cp "$PYTHON" "$BATS_TEST_TMPDIR/py"
	chown nobody "$BATS_TEST_TMPDIR/py"
	sed -i "0,/command = .*/s||command = { \"$BATS_TEST_TMPDIR/py\", \"$HELPERS/handler.py\" }|" "$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --regexp "^weftd: $CONF:[0-9]+: pool \"default\": command $BATS_TEST_TMPDIR/py is writable by user nobody, which weftd drops to"
	# A script it runs is as good as the program.
	cp "$HELPERS/handler.py" "$BATS_TEST_TMPDIR/h.py"
	chgrp nogroup "$BATS_TEST_TMPDIR/h.py"
	chmod g+w "$BATS_TEST_TMPDIR/h.py"
	sed -i "0,/command = .*/s||command = { \"$PYTHON\", \"$BATS_TEST_TMPDIR/h.py\" }|" "$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --regexp "pool \"default\": command $BATS_TEST_TMPDIR/h.py is writable by user nobody"
	two_pools 'user = "nobody"' 'user = "root"'
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --regexp "pool \"fast\": user root: weftd drops to user nobody, and starts no handler as root$"
	run timeout 10 "$WEFTD" -f -c "$CONF"
	assert_failure 1
	assert_output --partial "starts no handler as root"
}

@test "a handler of another user that ignores SIGTERM gets SIGKILL, through the spawner" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools 'user = "nobody"' 'user = "bin"
	  request_timeout = 300ms'
	open_tmpdir
	start_weftd
	run $CLIENT "$ADDR" route 7:noterm
	assert_line --index 0 --partial "3 "
	pid=$(sed -n 's/.*worker \([0-9]*\): ignoring SIGTERM$/\1/p' "$LOG")
	wait_for grep -q "worker $pid: still running 2000 ms after SIGTERM; sending SIGKILL" "$LOG"
	wait_for grep -q "worker $pid killed by signal 9" "$LOG"
}

@test "a spawner that dies takes its handlers: weftd answers what it held, drains and exits 1" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	two_pools 'user = "nobody"'
	open_tmpdir
	start_weftd
	SP=$(spawner_of "$WPID")
	# A request a handler holds when the spawner (and so it) dies. (The
	# first on its worker: one that ends a worker just after an answer
	# is sent again, as a handler that exits by design, and waits.)
	$CLIENT "$ADDR" send "sleep:5" >"$BATS_TEST_TMPDIR/held" &
	HELD=$!
	wait_for grep -q "sleeping" "$LOG"
	kill -KILL "$SP"
	wait "$HELD"
	assert_equal "$(head -n 1 "$BATS_TEST_TMPDIR/held")" \
	    "4 worker failed"
	WSTATUS=0
	wait "$WPID" || WSTATUS=$?
	WPID=
	assert_equal "$WSTATUS" 1
	# However weftd hears of it first: its socket, its exit, a request.
	grep -q "crit: the spawner .*: no handler can be started" "$LOG"
	grep -q "the spawner (pid $SP) killed by signal 9 (Killed)" "$LOG"
	grep -q "the spawner is gone: shutting down" "$LOG"
	# None of its handlers outlived it, and weftd started none itself.
	run pgrep -f "$HELPERS/handler.py"
	assert_failure
}

@test "conf/weftd-pools.conf, the example, is valid and serves both pools" {
	CONF="$BATS_TEST_TMPDIR/weftd.conf"
	sed -e "s|/usr/libexec/weft/echo.py|$TOP/examples/handlers/echo.py|" \
	    -e "s|/usr/libexec/weft/echo|$C_ECHO|" \
	    -e "s|/usr/bin/python3|$PYTHON|" \
	    -e 's|127.0.0.1:700[01]|127.0.0.1:0|' "$TOP/conf/weftd-pools.conf" >"$CONF"
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_success
	start_weftd
	run $CLIENT "$ADDR" route 0:a 10:b
	assert_success
	assert_output "$(printf '0 a\n0 b')"
}

# many_pools N ADDRS-PER-POOL: pools p1..pN of the C echo, one worker each,
# route i and ADDRS listeners on port 0; pN is the Python handler.
many_pools() {
	local i j cmd ls
	CONF="$BATS_TEST_TMPDIR/weftd.conf"
	echo "shutdown_timeout = 10s" >"$CONF"
	for ((i = 1; i <= $1; i++)); do
		cmd="\"$C_ECHO\""
		[ "$i" -lt "$1" ] || cmd=$PY_HANDLER
		ls=
		for ((j = 0; j < $2; j++)); do
			ls="$ls${ls:+, }\"127.0.0.1:0\""
		done
		cat >>"$CONF" <<-END
		pool "p$i" {
		  command = { $cmd }
		  workers = 1
		  env = { "POOL=p$i" }
		  routes = { $i }
		  ${ls:+listen = { $ls \}}
		}
		END
	done
}

@test "64 pools and 64 listeners serve; one more of either is refused" {
	many_pools 64 1
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_success
	start_weftd
	[ "$(grep -c 'listening on 127.0.0.1:.* for pool p' "$LOG")" -eq 64 ]
	run $CLIENT "$ADDR" route 64:who:x 1:y
	assert_success
	assert_output "$(printf '%s\n' "0 p64 route=64 uid=$(id -u) gid=$(id -g) x" '0 y')"
	stop_weftd
	many_pools 65 0
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output --partial "more than 64 pools"
	# 32 pools of two addresses, then a 33rd.
	many_pools 33 2
	run timeout 10 "$WEFTD" -t -c "$CONF"
	assert_failure 1
	assert_output "weftd: $CONF:231: listen: more than 64 addresses in all"
}
