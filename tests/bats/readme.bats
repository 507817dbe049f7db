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

# The library of the build under test ($lib), with its sanitizer ($san).
lib_of_build() {
	lib="$TOP/lib/libweft.a" san=""
	case "$BUILD" in
	*/asan) lib="$BUILD/libweft.a" san="-fsanitize=address,undefined" ;;
	*/tsan) lib="$BUILD/libweft.a" san="-fsanitize=thread" ;;
	esac
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
	lib_of_build
	run cc -std=c11 -Wall -Wextra -Werror $san -I"$TOP/lib/include" \
	    -o "$BATS_TEST_TMPDIR/h" "$BATS_TEST_TMPDIR/h.c" "$lib" -lpthread
	assert_success
	write_conf "\"$BATS_TEST_TMPDIR/h\"" 1
	start_weftd
	run sh -c "echo 'from the README' | timeout 10 '$CAT' $ADDR"
	assert_output "from the README"
}

@test "the README's libweft snippet builds with -Wall -Wextra -Werror, as C and C++, and runs" {
	# The second C block: the library's own, after the handler.
	awk '$0 == "```c" { n++; on = (n == 2); next }
	    on && $0 == "```" { exit } on { print }' "$TOP/README.md" \
	    >"$BATS_TEST_TMPDIR/snippet.c"
	grep -q wf_loop_post "$BATS_TEST_TMPDIR/snippet.c"
	lib_of_build
	run cc -std=c11 -Wall -Wextra -Werror $san -I"$TOP/lib/include" \
	    -o "$BATS_TEST_TMPDIR/snippet" "$BATS_TEST_TMPDIR/snippet.c" "$lib" -lpthread
	assert_success
	run timeout 10 "$BATS_TEST_TMPDIR/snippet"
	assert_success
	assert_output "hello from the loop"
	command -v g++ || fail "g++ (make test-deps) is not installed"
	run g++ -std=c++17 -Wall -Wextra -Werror $san -I"$TOP/lib/include" -x c++ \
	    "$BATS_TEST_TMPDIR/snippet.c" -x none -o "$BATS_TEST_TMPDIR/snippet++" "$lib" -lpthread
	assert_success
}
