# Shared by the weftd-*.bats files: write a config, start the real daemon on
# a kernel-chosen port with a notify socket of our own, wait for READY=1.
# WEFT_BUILD picks the build tree (make asan runs these against its own).

TOP="$BATS_TEST_DIRNAME/../.."
BUILD="${WEFT_BUILD:-$TOP/build}"
WEFTD="$BUILD/weftd"
CAT="$BUILD/weft-cat"
HELPERS="$BATS_TEST_DIRNAME/helpers"
C_ECHO="$BUILD/examples/handlers/echo"
# The system's python3: a shim (pyenv) would add its own environment.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
PY_HANDLER="\"$PYTHON\", \"$HELPERS/handler.py\""
CLIENT="timeout 30 $PYTHON $HELPERS/client.py"

# write_conf [HANDLER-ARGV [WORKERS [EXTRA-TOP-LEVEL [EXTRA-HANDLER]]]]
write_conf() {
	local cmd="\"$C_ECHO\""
	[ -n "${1:-}" ] && cmd=$1
	CONF="$BATS_TEST_TMPDIR/weftd.conf"
	cat >"$CONF" <<-END
	listen = { "127.0.0.1:0" }
	io_threads = 2
	log_level = info
	shutdown_timeout = 10s
	${3:-}
	handler {
	  command = { $cmd }
	  workers = ${2:-2}
	  ${4:-}
	}
	END
}

log_has_at_least() {
	[ "$(grep -c -e "$2" "$LOG")" -ge "$1" ]
}

# Poll a condition (not a fixed sleep): up to 10 s, less if weftd died.
wait_for() {
	local i
	for i in $(seq 1 500); do
		"$@" && return 0
		if [ -n "${WPID:-}" ] && ! kill -0 "$WPID" 2>/dev/null; then
			"$@" && return 0
			break
		fi
		sleep 0.02
	done
	echo "gave up waiting for: $*" >&2
	[ -f "${LOG:-/nonexistent}" ] && cat "$LOG" >&2
	return 1
}

start_weftd() {
	# A test may start weftd again: the last listener goes first.
	if [ -n "${NPID:-}" ]; then
		kill -TERM "$NPID" 2>/dev/null || true
		wait "$NPID" 2>/dev/null || true
	fi
	rm -f "$BATS_TEST_TMPDIR/notify.sock"
	NOTIFY="$BATS_TEST_TMPDIR/notify.sock"
	NLOG="$BATS_TEST_TMPDIR/notify.log"
	LOG="$BATS_TEST_TMPDIR/weftd.log"
	: >"$NLOG"
	"$PYTHON" "$HELPERS/notify_listen.py" "$NOTIFY" "$NLOG" &
	NPID=$!
	wait_for test -S "$NOTIFY"
	# weftd may drop to another user before it says READY=1.
	chmod a+w "$NOTIFY"
	NOTIFY_SOCKET="$NOTIFY" "$WEFTD" -f -c "$CONF" "$@" >"$LOG" 2>&1 &
	WPID=$!
	wait_for grep -q '^READY=1' "$NLOG"
	ADDR=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$LOG" | head -n 1)
	[ -n "$ADDR" ]
}

# SIGTERM and wait; sets WSTATUS to weftd's exit status.
stop_weftd() {
	kill -TERM "$WPID"
	WSTATUS=0
	wait "$WPID" || WSTATUS=$?
	WPID=
}

# The pids of weftd's children, one per line.
children() {
	pgrep -P "$WPID" || true
}

weftd_teardown() {
	if [ -n "${WPID:-}" ]; then
		kill -KILL "$WPID" 2>/dev/null || true
		wait "$WPID" 2>/dev/null || true
	fi
	if [ -n "${NPID:-}" ]; then
		kill -TERM "$NPID" 2>/dev/null || true
		wait "$NPID" 2>/dev/null || true
	fi
}

# For wait_for, which runs it anew each time: weftd has N children.
children_are() {
	[ "$(children | wc -l)" = "$1" ]
}
