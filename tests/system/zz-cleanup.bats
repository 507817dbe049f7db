#!/usr/bin/env bats
# Runs last (bats takes files in name order): every box the tests made is
# gone, whatever they did: no mount, no container, no files.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

@test "no box is left: no mount, no nspawn, no files" {
	[ -d "$WEFT_BOXES" ]
	run grep -F " $WEFT_BOXES/" /proc/self/mounts
	assert_output ""
	run pgrep -f "systemd-nspawn .*$WEFT_BOXES/"
	assert_failure
	run ls -A "$WEFT_BOXES"
	assert_output ""
}
