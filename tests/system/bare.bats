#!/usr/bin/env bats
# The README's two commands, exactly as printed, on a debootstrap minbase
# Debian 12 root that holds nothing but a copy of this tree (no make, no
# compiler, no pkg-config, no python3, no git): first as a plain user, then
# as root. The root is not booted: nspawn runs the commands in it, on the
# host's network (apt needs the mirror; the commands use port 0 here).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/box'

TOP="$BATS_TEST_DIRNAME/../.."
SRC=/src/weft

teardown() { box_down bare; }

# The Quick start's command that runs weftd, and the one that runs the tests.
readme_command() {
	sed -n '/^## Quick start/,/^## /p' "$TOP/README.md" |
	    sed -n "s/^    \\(.* $1\\) *#.*/\\1/p"
}

in_bare() {
	systemd-nspawn -q -D "$BOX" --register=no --keep-unit --as-pid2 \
	    --console=pipe --chdir="$SRC" "$@" </dev/null 3>&-
}

@test "the README's two commands work on a bare minbase root" {
	run_cmd=$(readme_command run)
	test_cmd=$(readme_command test)
	[ -n "$run_cmd" ] && [ -n "$test_cmd" ]
	box_up bare "$BOX_MINBASE"
	for tool in make cc gcc pkg-config python3 git; do
		[ ! -e "$BOX/usr/bin/$tool" ] || fail "the minbase root has $tool"
	done
	mkdir -p "$BOX$SRC"
	tar -C "$TOP" -c --exclude=./build --exclude=./.git \
	    --exclude=./lib/libweft.a --exclude='./lib/libweft.so*' . |
	    tar -x -C "$BOX$SRC"

	# A user other than root is told the exact apt-get line.
	run in_bare --user=nobody sh -c "$test_cmd"
	assert_failure 1
	assert_line --regexp "^deps.sh: run as root: apt-get update && apt-get install -y --no-install-recommends gcc make pkg-config .*"

	# Root: the first command installs, builds and runs weftd.
	t0=$(date +%s)
	in_bare --setenv=WEFT_LISTEN=127.0.0.1:0 sh -c "$run_cmd" \
	    >"$BATS_TEST_TMPDIR/run.log" 2>&1 &
	RUN_PID=$!
	box_wait 'grep -q "ready: " "$BATS_TEST_TMPDIR/run.log" ||
	    ! kill -0 $RUN_PID 2>/dev/null' 1200
	addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$BATS_TEST_TMPDIR/run.log")
	[ -n "$addr" ] || { cat "$BATS_TEST_TMPDIR/run.log"; false; }
	t1=$(date +%s)
	run sh -c "echo from-a-bare-box | '$BOX$SRC/build/weft-cat' $addr"
	assert_output "from-a-bare-box"
	# Ctrl-C, as the README says: weftd drains and make exits 0.
	pkill -INT -f "$SRC/build/weftd -f -c build/run/weftd.conf"
	wait "$RUN_PID"
	grep -q "stopped" "$BATS_TEST_TMPDIR/run.log"

	# Root: the second command runs every test, and all pass.
	t2=$(date +%s)
	run in_bare sh -c "$test_cmd"
	t3=$(date +%s)
	echo "# on a bare minbase root: '$run_cmd' ready in $((t1 - t0)) s" \
	    "(packages and build included); '$test_cmd' took $((t3 - t2)) s" >&3
	# nspawn may add a line of its own after the run's summary.
	summary=$(printf '%s\n' "${lines[@]}" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	echo "# $summary" >&3
	assert_success
	[[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}
