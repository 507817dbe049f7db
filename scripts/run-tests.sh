#!/bin/sh
# Run cmocka test binaries (TAP output) and bats files; print every result
# and end with one line "N passed, M failed". Exit non-zero on any failure.
#
#   run-tests.sh BIN... [-- BATS_DIR]
#
# A binary that dies (crash, sanitizer abort, per-case timeout) without
# reporting a failure counts as one failed test. WEFT_TEST_WRAP prefixes each
# binary (valgrind); WEFT_TEST_SLOW multiplies the per-case timeouts.
set -u

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
slow=${WEFT_TEST_SLOW:-1}

count() { # $1: name, $2: exit status; reads TAP in $log
	ok=$(grep -c '^ok ' "$log")
	nok=$(grep -c '^not ok ' "$log")
	if [ "$2" -ne 0 ] && [ "$nok" -eq 0 ]; then
		echo "not ok - $1 exited with status $2"
		nok=1
	fi
	passed=$((passed + ok))
	failed=$((failed + nok))
}

while [ $# -gt 0 ]; do
	[ "$1" = "--" ] && { shift; break; }
	bin=$1
	shift
	echo "# $bin"
	# The whole binary gets a generous cap on top of the per-case alarms.
	CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 5 $((300 * slow)) \
		${WEFT_TEST_WRAP:-} "$bin" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$bin" "$rc"
done

if [ $# -gt 0 ] && [ -d "$1" ] && ls "$1"/*.bats >/dev/null 2>&1; then
	echo "# bats $1"
	timeout -k 5 $((900 * slow)) bats --tap "$1" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "bats $1" "$rc"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
