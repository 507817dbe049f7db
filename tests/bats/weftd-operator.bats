#!/usr/bin/env bats
# The operator's view: weftctl over the control socket (status, reload,
# restart-workers, pool resize, its exit codes), the metrics listener
# (/metrics checked by promtool, /healthz, /readyz, its bounds), and
# slow_request.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

WEFTCTL="$BUILD/weftctl"
HTTP="timeout 30 $PYTHON $HELPERS/http.py"

teardown() {
	[ -z "${LOADER:-}" ] || kill "$LOADER" 2>/dev/null || true
	[ -z "${PROM:-}" ] || { kill "$PROM" 2>/dev/null; wait "$PROM" 2>/dev/null; } || true
	weftd_teardown
}

# A free TCP port on 127.0.0.1 (the kernel's choice, released at once).
free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_ops [HANDLER-ARGV [WORKERS [EXTRA-TOP [EXTRA-HANDLER]]]]: weftd with a
# control socket and a metrics listener of the test's own.
start_ops() {
	CTL="$BATS_TEST_TMPDIR/ctl.sock"
	MPORT=$(free_port)
	MADDR="127.0.0.1:$MPORT"
	write_conf "${1:-}" "${2:-2}" "control = \"unix:$CTL\"
	metrics_listen = \"$MADDR\"
	${3:-}" "${4:-}"
	start_weftd
}

ctl() {
	timeout 70 "$WEFTCTL" -s "$CTL" "$@"
}

# json EXPR: EXPR evaluated on `weftctl status --json` as j (Python).
json() {
	ctl status --json | "$PYTHON" -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# json_is EXPR VALUE: for wait_for, which runs it anew each time.
readyz_is() {
	[ "$($HTTP "$MADDR" GET /readyz)" = "$1" ]
}

json_is() {
	[ "$(json "$1")" = "$2" ]
}

worker_pids() {
	json "' '.join(str(w['pid']) for w in j['pools'][0]['worker_list'] if w['state'] in ('idle', 'busy'))"
}

@test "weftctl status: pools, workers and listeners, as a table and as JSON" {
	start_ops "" 3
	$CLIENT "$ADDR" send one two three
	run ctl status
	assert_success
	assert_line --regexp "^weftd [0-9.]+, pid $WPID, up [0-9]+s; ready\$"
	assert_line --partial "config $CONF, loaded "
	assert_line --regexp "^$ADDR +default +1 +0 +[01] +0 +[0-9]+\$"
	assert_line --partial "workers 3 (min 3, max 3): "
	assert_line --partial "requests 3: ok 3"
	for pid in $(children); do
		assert_line --regexp "^  $pid +(idle|busy) "
	done
	# The same through the configuration file.
	run timeout 30 "$WEFTCTL" -c "$CONF" status
	assert_success
	assert_line --partial "pid $WPID"
	run json "j['pid'], j['pools'][0]['workers']['configured'], len(j['pools'][0]['worker_list']), j['pools'][0]['requests']['ok'], j['listeners'][0]['address'], j['listeners'][0]['accepted'], j['listeners'][0]['accept_queue_max'] > 0, j['ready']"
	assert_success
	assert_output "$WPID 3 3 3 $ADDR 1 True True"
	run json "sorted(j['pools'][0]['worker_list'][0])"
	assert_output "['last_exit', 'max_requests', 'pid', 'recycling', 'request_age_ms', 'requests', 'retired', 'rss_bytes', 'started', 'state']"
	run json "sorted(k for k in j['pools'][0] if k != 'worker_list')"
	assert_output "['command', 'exits', 'latency_ms', 'max_reached', 'name', 'overloaded', 'queue', 'recycled', 'requests', 'respawns', 'slow', 'slow_request_ms', 'timeout', 'workers']"
}

@test "weftctl status: a busy worker shows its request's age, the queue its length and the max reached" {
	start_ops "$PY_HANDLER" 1 "" "pipeline = 1"
	$CLIENT "$ADDR" send sleep:2 >/dev/null &
	first=$!
	wait_for log_has_at_least 1 "worker [0-9]*: sleeping"
	$CLIENT "$ADDR" send queued >/dev/null &
	second=$!
	wait_for json_is "j['pools'][0]['queue']['length']" 1
	run json "j['pools'][0]['worker_list'][0]['state'], j['pools'][0]['worker_list'][0]['request_age_ms'] >= 0, j['pools'][0]['queue']['max'], j['pools'][0]['max_reached']"
	assert_output "busy True 1 1"
	wait "$first" "$second"
	run json "j['pools'][0]['queue']['length'], j['pools'][0]['worker_list'][0]['state'], j['pools'][0]['worker_list'][0]['requests'], j['pools'][0]['latency_ms']['p99'] > 1000"
	assert_output "0 idle 2 True"
}

@test "weftctl reload: reloaded, or refused with the reason and exit 1" {
	start_ops
	run ctl reload
	assert_success
	assert_output "reloaded $CONF"
	wait_for log_has_at_least 1 "reload: 2 workers of"
	echo "workers = many" >>"$CONF"
	run ctl reload
	assert_failure 1
	assert_output --partial "weftctl: reload failed: $CONF:"
	assert_output --partial "the running configuration stays"
	run json "j['reloads'], j['reload_failures']"
	assert_output "1 1"
	$CLIENT "$ADDR" send still
}

@test "weftctl restart-workers: every worker replaced, one at a time, no request lost" {
	start_ops "$PY_HANDLER" 3
	old=$(worker_pids)
	[ "$(echo $old | wc -w)" = 3 ]
	"$PYTHON" "$HELPERS/load.py" "$ADDR" "$BATS_TEST_TMPDIR/stop" 4 \
		>"$BATS_TEST_TMPDIR/load.out" 2>&1 &
	LOADER=$!
	run ctl restart-workers
	assert_success
	assert_output --partial "restarting the workers of 1 pool, one at a time"
	# Never more than one successor coming up at once; done when every
	# worker is new.
	most=0
	for i in $(seq 1 600); do
		n=$(json "j['pools'][0]['workers']['starting']")
		[ "$n" -gt "$most" ] && most=$n
		now=$(worker_pids)
		[ "$(echo $now | wc -w)" = 3 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$old" | sort) <(tr ' ' '\n' <<<"$now" | sort))" ] && break
		sleep 0.05
	done
	[ -z "$(comm -12 <(tr ' ' '\n' <<<"$old" | sort) <(tr ' ' '\n' <<<"$now" | sort))" ] ||
		fail "old workers still serving: $old / $now"
	[ "$most" -le 1 ] || fail "$most workers were starting at once"
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$LOADER"
	LOADER=
	run cat "$BATS_TEST_TMPDIR/load.out"
	assert_output --regexp '^[1-9][0-9]* answers, 0 wrong$'
	assert [ "$(grep -c 'worker [0-9]* .*retired: restart' "$LOG")" -ge 3 ]
}

@test "weftctl pool NAME workers N: grows and shrinks at once, not saved" {
	start_ops "" 2
	run ctl pool default workers 4
	assert_success
	assert_output --partial "workers 2 -> 4; not saved"
	wait_for children_are 4
	run ctl pool default workers 1
	assert_success
	wait_for children_are 1
	run json "j['pools'][0]['workers']['configured']"
	assert_output 1
	$CLIENT "$ADDR" send after
	# A reload goes back to the file's count.
	ctl reload
	wait_for json_is "j['pools'][0]['workers']['ready']" 2
}

@test "weftctl pool NAME workers N while a reload's workers are starting: no failure, no backoff" {
	start_ops "$PY_HANDLER" 2
	kill -HUP "$WPID"
	wait_for log_has_at_least 1 "reload: 2 workers of"
	# The reload's new workers are on probation (1 s): one is let go.
	run ctl pool default workers 1
	assert_success
	wait_for json_is "j['pools'][0]['workers']['ready'], j['pools'][0]['workers']['starting']" "1 0"
	refute grep -q "die at start" "$LOG"
	run json "j['pools'][0]['respawns']"
	assert_output 0
	$CLIENT "$ADDR" send after
}

@test "weftctl: errors in plain words, with the documented exit codes" {
	start_ops
	run ctl pool nosuch workers 2
	assert_failure 1
	assert_output "weftctl: no pool named nosuch"
	run ctl pool default workers 0
	assert_failure 2
	assert_output --partial "is not a number from 1 to 1024"
	run ctl frobnicate
	assert_failure 2
	assert_output --partial "not a request weftd knows"
	# A line over the 1024 bytes a request may have: refused, not read on.
	run "$PYTHON" -c "
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect('$CTL')
s.sendall(b'status ' + b'x' * 2000 + b'\\n')
print(s.recv(4096).decode().strip())"
	assert_output "2 0 request too long"
	# Not weftd's control socket: a listener that answers nothing sane.
	run timeout 30 "$WEFTCTL" -s "$BATS_TEST_TMPDIR/notify.sock" status
	assert_failure
	run ctl
	assert_failure 2
	assert_output --partial "usage: weftctl"
	run timeout 30 "$WEFTCTL" -s "$BATS_TEST_TMPDIR/nothing.sock" status
	assert_failure 3
	assert_output --partial "No such file or directory (is weftd running?)"
	# The socket is the owner's only.
	run stat -c %a "$CTL"
	assert_output 600
}

@test "GET /metrics is Prometheus' text format (promtool check metrics) and counts what happened" {
	command -v promtool || fail "promtool (Debian's prometheus, make test-deps) is not installed"
	start_ops "$PY_HANDLER" 2
	$CLIENT "$ADDR" send a b c status:300 >/dev/null
	run $HTTP "$MADDR" GET /metrics
	assert_success
	assert_line 200
	echo "$output" | sed 1d >"$BATS_TEST_TMPDIR/metrics.txt"
	run promtool check metrics <"$BATS_TEST_TMPDIR/metrics.txt"
	assert_success
	assert_output ""
	run cat "$BATS_TEST_TMPDIR/metrics.txt"
	assert_line 'weftd_pool_requests_total{pool="default",status="ok"} 3'
	assert_line 'weftd_pool_requests_total{pool="default",status="handler_error"} 1'
	assert_line 'weftd_pool_request_duration_seconds_count{pool="default"} 4'
	assert_line 'weftd_pool_request_duration_seconds_bucket{pool="default",le="+Inf"} 4'
	assert_line "weftd_listener_accepted_connections_total{listener=\"$ADDR\",pool=\"default\"} 1"
	assert_line 'weftd_pool_workers_configured{pool="default"} 2'
	assert_line 'weftd_ready 1'
	# HEAD: the same headers, no body.
	run $HTTP "$MADDR" HEAD /metrics
	assert_output 200
}

@test "the metrics listener: /healthz, 404 for anything else, 400 for what is not HTTP, 431 for huge headers" {
	start_ops
	run $HTTP "$MADDR" GET /healthz
	assert_output "200
ok"
	run $HTTP "$MADDR" GET /nothing
	assert_line 404
	run $HTTP "$MADDR" POST /metrics
	assert_line 404
	run $HTTP "$MADDR" raw 'hello there\r\n\r\n'
	assert_output 400
	run $HTTP "$MADDR" raw 'x\r\n\r\n'
	assert_output 400
	# No header at all, HTTP/1.0: what HAProxy's httpchk sends.
	run $HTTP "$MADDR" raw 'GET /healthz HTTP/1.0\r\n\r\n'
	assert_output 200
	run $HTTP "$MADDR" raw 'HEAD /readyz HTTP/1.1\n\n'
	assert_output 200
	run $HTTP "$MADDR" raw 'GET /metrics HTTP/2.0\r\n\r\n'
	assert_output 400
	run $HTTP "$MADDR" raw "GET /metrics HTTP/1.1\r\nX: $(head -c 9000 /dev/zero | tr '\0' a)\r\n\r\n"
	assert_output 431
	# None of it disturbed the clients' side.
	$CLIENT "$ADDR" send fine
}

@test "/readyz: 200 when every pool has a ready worker, 503 as soon as a drain starts" {
	start_ops "$PY_HANDLER" 1
	run $HTTP "$MADDR" GET /readyz
	assert_output "200
ready"
	$CLIENT "$ADDR" send sleep:3 >/dev/null &
	slow=$!
	wait_for log_has_at_least 1 "worker [0-9]*: sleeping"
	kill -TERM "$WPID"
	wait_for log_has_at_least 1 "SIGTERM: shutting down"
	run $HTTP "$MADDR" GET /readyz
	assert_output "503
draining"
	run $HTTP "$MADDR" GET /healthz
	assert_line 200
	wait "$slow"
}

@test "/readyz: 503 while a pool has no worker that can take requests" {
	start_ops "$PY_HANDLER, \"--die-at-start\"" 1
	# (A worker may be up for a moment, before it dies.)
	wait_for readyz_is "503
pool default has no worker ready"
	run $HTTP "$MADDR" GET /metrics
	assert_line 'weftd_ready 0'
}

@test "the metrics listener: 16 silent connections cannot keep a health check out, and each goes at its deadline" {
	start_ops
	$HTTP "$MADDR" hold 16 "$BATS_TEST_TMPDIR/held" >"$BATS_TEST_TMPDIR/held.out" &
	holder=$!
	wait_for test -e "$BATS_TEST_TMPDIR/held"
	# Over the cap: the oldest silent one makes room.
	run $HTTP "$MADDR" GET /healthz
	assert_output "200
ok"
	# Clients are served meanwhile: the main loop is not held up.
	$CLIENT "$ADDR" send meanwhile
	wait "$holder"
	run cat "$BATS_TEST_TMPDIR/held.out"
	[ "${#lines[@]}" = 16 ]
	# The first went for the health check; the others at the 2 s deadline.
	for t in "${lines[@]:1}"; do
		"$PYTHON" -c "import sys; sys.exit(not 1.5 <= $t <= 6)" ||
			fail "a silent connection lasted $t s, not the 2 s deadline"
	done
}

@test "a real Prometheus scrapes weftd: the target is up and a counter grows" {
	command -v prometheus || fail "prometheus (make test-deps) is not installed"
	start_ops
	pport=$(free_port)
	cat >"$BATS_TEST_TMPDIR/prom.yml" <<-END
	global:
	  scrape_interval: 1s
	scrape_configs:
	  - job_name: weftd
	    static_configs:
	      - targets: ["$MADDR"]
	END
	prometheus --config.file="$BATS_TEST_TMPDIR/prom.yml" \
		--storage.tsdb.path="$BATS_TEST_TMPDIR/tsdb" \
		--web.listen-address="127.0.0.1:$pport" \
		>"$BATS_TEST_TMPDIR/prom.log" 2>&1 &
	PROM=$!
	query() {
		"$PYTHON" - "$pport" "$1" <<-'END'
		import json, sys, urllib.parse, urllib.request
		url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2]))
		try:
		    r = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
		except Exception:
		    r = []
		print(r[0]["value"][1] if r else "none")
		END
	}
	for i in $(seq 1 300); do
		[ "$(query 'up{job="weftd"}')" = 1 ] && break
		sleep 0.1
	done
	[ "$(query 'up{job="weftd"}')" = 1 ] || { cat "$BATS_TEST_TMPDIR/prom.log"; fail "weftd not up in Prometheus"; }
	q='sum(weftd_pool_requests_total{job="weftd",status="ok"})'
	before=$(query "$q")
	$CLIENT "$ADDR" send one two three >/dev/null
	for i in $(seq 1 300); do
		after=$(query "$q")
		[ "$after" = $((before + 3)) ] && break
		sleep 0.1
	done
	[ "$after" = $((before + 3)) ] || fail "requests counter went from $before to $after"
}

@test "slow_request: a request running past it is logged once and counted, and so is its end" {
	start_ops "$PY_HANDLER" 1 "" "slow_request = 300ms
	  pipeline = 4"
	run $CLIENT "$ADDR" send sleep:1
	assert_success
	assert_line "0 sleep:1"
	wait_for log_has_at_least 1 "slow request done: worker [0-9]*, after [0-9]* ms"
	run grep -c "slow request: worker [0-9]*, client 127.0.0.1 port [0-9]*, 7 bytes, running for [0-9]* ms" "$LOG"
	assert_output 1
	run grep -c "slow request" "$LOG"
	assert_output 2
	run json "j['pools'][0]['slow'], j['pools'][0]['slow_request_ms']"
	assert_output "1 300"
	# One that waited on its worker behind a slow one is slow too: it is
	# looked at when it reaches the front.
	run $CLIENT "$ADDR" send sleep:1 quick
	assert_line "0 quick"
	wait_for json_is "j['pools'][0]['slow']" 3
	wait_for log_has_at_least 3 "slow request done"
}

@test "a handler may not use the control socket, even as weftd's own user" {
	start_ops "$PY_HANDLER" 1
	run $CLIENT "$ADDR" send "control:$CTL"
	assert_output "0 closed
closed"
	wait_for log_has_at_least 1 "control socket: pid [0-9]* is a handler's (worker [0-9]*): refused"
	run ctl status
	assert_success
}

@test "drain_delay: after SIGTERM /readyz says 503 while new connections are still served, then the drain" {
	start_ops "" 2 "drain_delay = 1500ms"
	kill -TERM "$WPID"
	wait_for log_has_at_least 1 "SIGTERM: /readyz says 503; still serving for drain_delay (1500 ms)"
	run $HTTP "$MADDR" GET /readyz
	assert_output "503
draining"
	# Not refused yet: a balancer has time to take weftd out.
	run $CLIENT "$ADDR" send during-the-delay
	assert_line "0 during-the-delay"
	wait_for log_has_at_least 1 "drain_delay over: shutting down"
	WSTATUS=0
	wait "$WPID" || WSTATUS=$?
	WPID=
	[ "$WSTATUS" = 0 ]
}

@test "weftd -t: control must be a unix:/path, metrics_listen an address" {
	for v in 'control = "/run/x.sock"' 'control = "127.0.0.1:9"' \
	    'metrics_listen = "localhost"' 'drain_delay = soon'; do
		write_conf "" 1 "$v"
		run "$WEFTD" -t -c "$CONF"
		assert_failure 1
		assert_output --regexp "^weftd: $CONF:[0-9]+: (control|metrics_listen|drain_delay): "
	done
	write_conf "" 1 'control = ""
	metrics_listen = "unix:/run/weft/metrics.sock"'
	run "$WEFTD" -t -c "$CONF"
	assert_success
}

@test "a control socket that was set and cannot be bound stops weftd" {
	write_conf "" 1 "control = \"unix:$BATS_TEST_TMPDIR/no/such/dir/ctl.sock\""
	run timeout 20 "$WEFTD" -f -c "$CONF"
	assert_failure 1
	assert_output --partial "control socket $BATS_TEST_TMPDIR/no/such/dir/ctl.sock: No such file or directory"
}
