#!/usr/bin/env bats
# The README's entry point (scripts/make.sh) and scripts/deps.sh, against
# stand-ins for dpkg-query, id, apt-get and make: what a bare machine, a
# ready one and a non-root user each get. (tests/system/bare.bats runs the
# real thing on a debootstrap minbase root.)

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."

# STUB_INSTALLED: the packages dpkg-query reports installed ("all": every one).
# STUB_UID: what id -u says. Every apt-get and make call is logged to $CALLS.
setup() {
	STUBS="$BATS_TEST_TMPDIR/bin"
	CALLS="$BATS_TEST_TMPDIR/calls"
	mkdir -p "$STUBS"
	: >"$CALLS"
	cat >"$STUBS/dpkg-query" <<-'END'
	#!/bin/sh
	shift 2 # -W -f=FORMAT
	rc=0
	for p; do
		case " $STUB_INSTALLED " in
		" all "|*" $p "*) echo "ii |$p" ;;
		*) echo "dpkg-query: no packages found matching $p" >&2; rc=1 ;;
		esac
	done
	exit $rc
	END
	printf '#!/bin/sh\necho "$STUB_UID"\n' >"$STUBS/id"
	printf '#!/bin/sh\necho "apt-get $*" >>"%s"\n' "$CALLS" >"$STUBS/apt-get"
	printf '#!/bin/sh\necho "make $*" >>"%s"\n' "$CALLS" >"$STUBS/make"
	chmod +x "$STUBS"/*
	export STUB_INSTALLED="" STUB_UID=0
}

entry() {
	PATH="$STUBS:$PATH" sh "$TOP/scripts/make.sh" "$@"
}

@test "a user without the packages gets the exact apt-get line and exit 1" {
	STUB_UID=1000
	STUB_INSTALLED="gcc libc6-dev"
	run entry test
	assert_failure 1
	assert_line --partial "deps.sh: run as root: apt-get update && apt-get install -y --no-install-recommends make pkg-config libcmocka-dev"
	refute_output --partial " gcc "
	run cat "$CALLS"
	assert_output ""
}

@test "root on a bare machine installs everything, make included, then runs make" {
	run entry run
	assert_success
	run cat "$CALLS"
	assert_line --index 0 "apt-get update -qq"
	assert_line --index 1 --regexp "^apt-get install -y --no-install-recommends gcc make pkg-config .* groff-base$"
	assert_line --index 2 "make run"
	assert_equal "${#lines[@]}" 3
}

@test "a ready machine never runs apt-get" {
	STUB_INSTALLED=all
	STUB_UID=1000
	run entry test
	assert_success
	run cat "$CALLS"
	assert_output "make test"
}

@test "only what is missing is installed" {
	STUB_INSTALLED="gcc pkg-config libc6-dev libcmocka-dev bats bats-support bats-assert valgrind libconfuse-dev libsystemd-dev python3 procps systemd man-db groff-base"
	run entry test
	assert_success
	run cat "$CALLS"
	assert_line --index 1 "apt-get install -y --no-install-recommends make"
	assert_line --index 2 "make test"
}

@test "the README's quick start is this entry point" {
	run sed -n '/^## Quick start/,/^## /p' "$TOP/README.md"
	assert_line --regexp '^    sh scripts/make.sh run +#'
	assert_line --regexp '^    sh scripts/make.sh test +#'
}
