#!/usr/bin/env bats
# The code in README.md works as printed: the Python client and the C
# handler are cut out of it, built and run against weftd.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/weftd'

teardown() { weftd_teardown; }

# The first fenced block of language $1 in README.md.
snippet() {
	awk -v lang="$1" '$0 == "```" lang { on = 1; next }
	    on && $0 == "```" { exit } on { print }' "$TOP/README.md"
}

@test "the README's ten lines of Python talk to weftd" {
	write_conf
	start_weftd
	snippet python >"$BATS_TEST_TMPDIR/client.py"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/client.py")" -le 10 ]
	sed -i "s/7000/${ADDR##*:}/" "$BATS_TEST_TMPDIR/client.py"
	run timeout 10 "$PYTHON" "$BATS_TEST_TMPDIR/client.py"
	assert_success
	assert_output "(0, b'hello')"
}

@test "the README's C handler builds and serves through weftd" {
	snippet c | head -n 20 >"$BATS_TEST_TMPDIR/h.c"
	grep -q wf_handler_run "$BATS_TEST_TMPDIR/h.c"
	# The library of the build under test, with its sanitizer.
	lib="$TOP/lib/libweft.a" san=""
	case "$BUILD" in
	*/asan) lib="$BUILD/libweft.a" san="-fsanitize=address,undefined" ;;
	*/tsan) lib="$BUILD/libweft.a" san="-fsanitize=thread" ;;
	esac
	run cc -std=c11 -Wall -Wextra -Werror $san -I"$TOP/lib/include" \
	    -o "$BATS_TEST_TMPDIR/h" "$BATS_TEST_TMPDIR/h.c" "$lib" -lpthread
	assert_success
	write_conf "\"$BATS_TEST_TMPDIR/h\"" 1
	start_weftd
	run sh -c "echo 'from the README' | timeout 10 '$CAT' $ADDR"
	assert_output "from the README"
}
