#!/usr/bin/env bats
# The ABI check's policy (scripts/abi-check.sh, run by make abi-check) on a
# scratch copy of the library: a baseline dumped from the copy as it is,
# then one change. Removing a function or inserting a struct field fails
# unless the soname changes with it; a new function passes.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."

sover() {
	sed -n 's/^SOVER *= *//p' "$T/Makefile"
}

# Only the shared library; a calling make's flags (a jobserver, a sanitizer
# tree's BUILD and OUT) stay out of it.
build() {
	env -u MAKEFLAGS -u MFLAGS timeout 120 make -s -C "$T" "lib/libweft.so.$(sover)"
}

# dump or check the copy's library against its abi/libweft.abi.
abi() {
	timeout 60 sh "$T/scripts/abi-check.sh" "$1" "lib/libweft.so.$(sover)" abi/libweft.abi
}

setup() {
	command -v abidw || fail "abidw (abigail-tools, make test-deps) is not installed"
	T="$BATS_TEST_TMPDIR/tree"
	mkdir "$T"
	cp -r "$TOP/lib" "$TOP/Makefile" "$TOP/scripts" "$TOP/abi" "$T/"
	rm -f "$T"/lib/libweft.a "$T"/lib/libweft.so*
	build
	run abi dump
	assert_success
	# The dump is what the check compares with: the same tree passes.
	run abi check
	assert_success
	assert_output --partial "matches abi/libweft.abi"
}

@test "removing a public function fails the ABI check" {
	sed -i '/wf_version(void);/d' "$T/lib/include/weft/defs.h"
	rm "$T/lib/src/version.c"
	build
	run abi check
	assert_failure
	assert_output --partial "1 Removed function"
	assert_output --partial "the soname is still libweft.so.0"
}

@test "a field inserted in struct wf_connect_opts fails the ABI check, unless the soname changes with it" {
	h="$T/lib/include/weft/connect.h"
	sed -i '/^struct wf_connect_opts {/,/^};/s/^\tsize_t size;$/&\n\tint inserted;/' "$h"
	grep -q 'int inserted;' "$h" || fail "no 'size_t size;' in struct wf_connect_opts: adapt this test"
	build
	run abi check
	assert_failure
	assert_output --partial "'int inserted', at offset 64 (in bits)"
	sed -i 's/^SOVER *= *0$/SOVER = 1/' "$T/Makefile"
	build
	run abi check
	assert_success
	assert_output --partial "but the soname changed with it (libweft.so.0 -> libweft.so.1)"
}

@test "a new public function passes the ABI check, with a hint to refresh the baseline" {
	sed -i 's/^WF_EXPORT int wf_version(void);$/&\nWF_EXPORT int wf_abi_added(void);/' \
		"$T/lib/include/weft/defs.h"
	printf '\nint\nwf_abi_added(void)\n{\n\treturn 1;\n}\n' >>"$T/lib/src/version.c"
	build
	run abi check
	assert_success
	assert_output --partial "[A] 'function int wf_abi_added()'"
	assert_output --partial "make abi-dump"
}
