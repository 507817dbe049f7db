#!/usr/bin/env bats
# libweft as a C++ program and a packager see it: C linkage in every
# header, and one version in the headers, the library and the Makefile.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."

@test "a C++ program includes every header and links against libweft (extern \"C\")" {
	command -v g++ || fail "g++ (make test-deps) is not installed"
	# The plain library (a sanitizer run's own would need its runtime).
	make -s -C "$TOP" lib/libweft.a
	run g++ -std=c++17 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$TOP/lib/include" \
		-o "$BATS_TEST_TMPDIR/every_header" "$TOP/tests/cxx/every_header.cpp" \
		"$TOP/lib/libweft.a" -lpthread
	assert_success
	run "$BATS_TEST_TMPDIR/every_header"
	assert_success
	version=$(sed -n 's/^VERSION *= *//p' "$TOP/Makefile")
	IFS=. read -r major minor patch <<<"$version"
	assert_output "$version $((major * 10000 + minor * 100 + patch))"
}
